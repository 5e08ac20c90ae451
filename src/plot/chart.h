/* chart: line and bar charts drawn with cairo, saved as PNG and SVG.
 *
 * A figure is a title and a grid of panels (rows x cols, filled row by row); each panel is a line chart
 * (x/y series, e.g. loss per step) or a bar chart (groups of bars, e.g. baseline and final compile rate
 * per model; optionally stacked). Axes get "nice" ticks, a grid, labels and a legend. The same drawing is
 * rendered once onto an image surface (PNG) and once onto an SVG surface, so both files show the same
 * figure.
 *
 * Series colours come from a fixed ten-colour palette (chart_palette) that nothing else in a figure uses,
 * and data lines, and only data lines, are stroked CHART_LINE_WIDTH wide: tests count the series of an SVG
 * by those two properties. The caller owns every array and string of the specs; chart_save only reads them. */
#ifndef HF_CHART_H
#define HF_CHART_H

#include <stdbool.h>
#include <stddef.h>

#define CHART_LINE_WIDTH 2.25
#define CHART_PALETTE_SIZE 10

/* The palette as 0..1 RGB triples (series i gets colour i % CHART_PALETTE_SIZE). */
extern const double chart_palette[CHART_PALETTE_SIZE][3];

typedef enum { CHART_NUM, CHART_PERCENT } chart_units; /* CHART_PERCENT: values 0..1 shown as 0%..100% */

typedef struct {
    const double *x, *y; /* n points; a point whose x or y is not finite is left out */
    size_t n;
    const char *label;   /* legend entry; NULL: no legend entry */
    bool dashed;
} chart_series;

typedef struct {
    const char *title, *xlabel, *ylabel; /* labels should carry units: "loss (nats/token)" */
    const chart_series *series;
    size_t n_series;
    chart_units y_units;
    bool y_from_zero;  /* include 0 in the y range (rates, counts) */
    bool x_integer;    /* ticks on whole numbers only (steps, cycles) */
    const double *vlines;             /* optional: n_vlines x positions marked by thin dashed lines */
    const char *const *vline_labels;  /* their labels (or NULL), written at the top of the plot */
    size_t n_vlines;
} chart_lines;

typedef struct {
    const char *title, *ylabel;
    const char *const *groups; /* n_groups labels along x (models, phases) */
    size_t n_groups;
    const char *const *bars;   /* n_bars legend labels (one colour each: "baseline", "final") */
    size_t n_bars;
    const double *values;      /* [n_groups][n_bars]; not finite: no bar (drawn as "n/a") */
    chart_units y_units;
    bool stacked;              /* the bars of a group stacked into one column (time breakdown) */
    bool value_labels;         /* write each bar's value above it */
} chart_bars;

typedef enum { CHART_PANEL_LINES, CHART_PANEL_BARS } chart_panel_kind;

typedef struct {
    chart_panel_kind kind;
    const chart_lines *lines; /* CHART_PANEL_LINES */
    const chart_bars *bars;   /* CHART_PANEL_BARS */
} chart_panel;

typedef struct {
    const char *title;         /* NULL: none */
    int width, height;         /* pixels of the PNG (points of the SVG) */
    int rows, cols;
    const chart_panel *panels; /* up to rows * cols */
    size_t n_panels;
} chart_figure;

/* Renders f into base + ".png" and base + ".svg", each written to a temporary name and renamed. Returns
 * 0, or -1 with "PATH: reason" in err. */
int chart_save(const chart_figure *f, const char *base, char *err, size_t errcap);

/* Frees cairo's and fontconfig's process-wide caches (fonts, patterns), which otherwise live until exit
 * and show up as leaks under LeakSanitizer. Call once when no more figures will be drawn. */
void chart_release(void);

/* A one-panel figure of width x height. */
chart_figure chart_single(int width, int height, const chart_panel *panel);

#endif
