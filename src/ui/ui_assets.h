/* ui_assets: the dashboard's files (index.html, app.js, app.css, and Chart.js from Debian's
 * libjs-chart.js), embedded in the program at build time by cmake/ui_embed.cmake, so the page works
 * with no network and no file beside the program. */
#ifndef HF_UI_ASSETS_H
#define HF_UI_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *name; /* "index.html", "chart.js" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
} ui_asset;

/* The asset of that name, or NULL. */
const ui_asset *ui_asset_find(const char *name);

#endif
