/* dsv: rows of a Hugging Face dataset through the dataset viewer's API (JSON over HTTPS, no parquet).
 *
 *   GET SERVER/splits?dataset=ORG/NAME                       -> {"splits": [{"dataset", "config", "split"}]}
 *   GET SERVER/rows?dataset=&config=&split=&offset=&length=  -> {"features": [...], "rows": [{"row_idx",
 *                                                                "row": {...}, "truncated_cells"}],
 *                                                                "num_rows_total", "num_rows_per_page"}
 * SERVER is $HF_DATASETS_SERVER, else https://datasets-server.huggingface.co. Requests carry
 * "Authorization: Bearer TOKEN" when a token is set ($HF_TOKEN, $HUGGING_FACE_HUB_TOKEN, the file
 * $HF_TOKEN_PATH or $HF_HOME/token), for gated datasets. Pages hold DSV_PAGE rows (the API's maximum).
 *
 * Every answer is cached, written atomically, under CACHE/ORG--NAME/ (splits.json and
 * CONFIG/SPLIT/rows-OFFSET.json), CACHE being $HF_DATASETS_CACHE/viewer, else $HF_HOME/datasets/viewer
 * (HF_HOME defaulting to ~/.cache/huggingface). A page in the cache is never fetched again, so an
 * interrupted download resumes where it stopped. With HF_HUB_OFFLINE=1 (or HF_DATASETS_OFFLINE=1) only
 * the cache is read; a server that cannot be reached also falls back to the cache. Errors name the dataset,
 * what the server said (404 not found, 401/403 gated: set HF_TOKEN) or the page the cache lacks. */
#ifndef HF_DSV_H
#define HF_DSV_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define DSV_PAGE 100

typedef struct {
    char dataset[200];
    char config[200];
    char split[120];
    long total;            /* num_rows_total */
    char cache[4096];      /* CACHE/ORG--NAME */
    char server[1024];
    char token[1024];
    bool offline;
    long pages_fetched;    /* from the server by this source (the rest came from the cache) */
} dsv_source;

/* Opens dataset (ORG/NAME) at config and split (either NULL or "": the first config of the /splits
 * answer that has the split; a NULL split: "train"). Reads the first page to learn the row count.
 * Returns 0, or -1 with the reason in err. */
int dsv_open(dsv_source *s, const char *dataset, const char *config, const char *split, char *err, size_t errcap);

/* The page of rows starting at offset (a multiple of DSV_PAGE below s->total), from the cache or the
 * server. Returns 0 with *page (caller frees with cJSON_Delete) holding "rows", or -1 with err. */
int dsv_page(dsv_source *s, long offset, cJSON **page, char *err, size_t errcap);

#endif
