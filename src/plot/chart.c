/* chart: line and bar charts with cairo (see chart.h). */
#include "plot/chart.h"

#include <cairo-svg.h>
#include <cairo.h>
#include <errno.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"

/* Tableau's ten colours (matplotlib's default cycle): distinct, and readable by most colour-blind people. */
const double chart_palette[CHART_PALETTE_SIZE][3] = {
    {0x1f / 255.0, 0x77 / 255.0, 0xb4 / 255.0}, {0xff / 255.0, 0x7f / 255.0, 0x0e / 255.0},
    {0x2c / 255.0, 0xa0 / 255.0, 0x2c / 255.0}, {0xd6 / 255.0, 0x27 / 255.0, 0x28 / 255.0},
    {0x94 / 255.0, 0x67 / 255.0, 0xbd / 255.0}, {0x8c / 255.0, 0x56 / 255.0, 0x4b / 255.0},
    {0xe3 / 255.0, 0x77 / 255.0, 0xc2 / 255.0}, {0x7f / 255.0, 0x7f / 255.0, 0x7f / 255.0},
    {0xbc / 255.0, 0xbd / 255.0, 0x22 / 255.0}, {0x17 / 255.0, 0xbe / 255.0, 0xcf / 255.0},
};

#define FONT "DejaVu Sans"
#define FS_FIG_TITLE 22.0
#define FS_TITLE 16.0
#define FS_LABEL 14.0
#define FS_TICK 12.5
#define FS_LEGEND 13.0

typedef struct {
    double x, y, w, h;
} box;

static void set_font(cairo_t *cr, double size, bool bold) {
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static double text_w(cairo_t *cr, const char *s) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* Text anchored at (x, y): ax 0 left / 0.5 centre / 1 right; y is the vertical centre of the text. */
static void text_at(cairo_t *cr, double x, double y, double ax, const char *s) {
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    cairo_move_to(cr, x - ax * text_w(cr, s), y + (fe.ascent - fe.descent) / 2);
    cairo_show_text(cr, s);
}

static void text_rotated(cairo_t *cr, double x, double y, double angle, double ax, const char *s) {
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, angle);
    text_at(cr, 0, 0, ax, s);
    cairo_restore(cr);
}

static void rgb(cairo_t *cr, int i) {
    const double *c = chart_palette[i % CHART_PALETTE_SIZE];
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
}

/* ---- ticks */

/* A step of 1, 2, 2.5 or 5 times a power of ten giving about target intervals over range. */
static double nice_step(double range, int target) {
    if (!(range > 0)) return 1;
    double raw = range / target, p = pow(10, floor(log10(raw))), f = raw / p;
    double m = f < 1.5 ? 1 : f < 2.25 ? 2 : f < 3.5 ? 2.5 : f < 7.5 ? 5 : 10;
    return m * p;
}

static int step_decimals(double step) {
    int d = 0;
    while (d < 8 && fabs(step * pow(10, d) - round(step * pow(10, d))) > 1e-6 * step * pow(10, d)) d++;
    return d;
}

static void fmt_tick(char *out, size_t cap, double v, double step, chart_units u) {
    if (fabs(v) < step * 1e-6) v = 0;
    if (u == CHART_PERCENT) {
        snprintf(out, cap, "%.*f%%", step_decimals(step * 100), v * 100);
    } else if (v == 0 && step < 1e-3) {
        snprintf(out, cap, "0"); /* beside 0.00025, 0.0005, ... */
    } else if (fabs(v) >= 1e6 || step < 1e-3) {
        snprintf(out, cap, "%.3g", v); /* learning rates: 0.00125, 2.5e-05 */
    } else {
        snprintf(out, cap, "%.*f", step_decimals(step), v);
    }
}

static void fmt_value(char *out, size_t cap, double v, chart_units u) {
    if (u == CHART_PERCENT) snprintf(out, cap, "%.1f%%", v * 100);
    else if (fabs(v) >= 100) snprintf(out, cap, "%.0f", v);
    else if (fabs(v) >= 1) snprintf(out, cap, "%.1f", v);
    else snprintf(out, cap, "%.3g", v);
}

typedef struct {
    double lo, hi, step;
} axis;

/* Extends [lo, hi] to whole steps. */
static axis make_axis(double lo, double hi, bool from_zero, int target) {
    if (from_zero) {
        if (lo > 0) lo = 0;
        if (hi < 0) hi = 0;
    }
    if (!(hi > lo)) {
        double d = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
        lo -= d;
        hi += d;
        if (from_zero && lo < 0 && hi > 0 && lo > -d * 2) lo = 0;
    }
    axis a;
    a.step = nice_step(hi - lo, target);
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    if (a.hi <= a.lo) a.hi = a.lo + a.step;
    return a;
}

/* ---- frame: title, legend, axes and grid; returns the plot area */

typedef struct {
    const char *label;
    int colour;
} legend_item;

/* A horizontal legend under the panel title, wrapped into rows; returns the height it used. */
static double draw_legend(cairo_t *cr, const legend_item *items, size_t n, double x, double y, double w) {
    if (!n) return 0;
    set_font(cr, FS_LEGEND, false);
    const double sw = 22, gap = 8, pad = 20, row_h = 20;
    double cx = x, cy = y + row_h / 2;
    int rows = 1;
    for (size_t i = 0; i < n; i++) {
        double iw = sw + gap + text_w(cr, items[i].label);
        if (cx > x && cx + iw > x + w) {
            cx = x;
            cy += row_h;
            rows++;
        }
        /* a filled swatch, never a stroke: only data lines are stroked CHART_LINE_WIDTH wide */
        rgb(cr, items[i].colour);
        cairo_rectangle(cr, cx, cy - 5, sw, 10);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        text_at(cr, cx + sw + gap, cy, 0, items[i].label);
        cx += iw + pad;
    }
    return rows * row_h + 6;
}

static void no_data(cairo_t *cr, box pa) {
    set_font(cr, FS_LABEL, false);
    cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
    text_at(cr, pa.x + pa.w / 2, pa.y + pa.h / 2, 0.5, "no data");
}

/* Panel title, legend, y label; returns the area left for the axes (ticks and x label still inside). */
static box panel_frame(cairo_t *cr, box b, const char *title, const char *ylabel, const legend_item *items,
                       size_t n_items) {
    double top = b.y + 6;
    if (title) {
        set_font(cr, FS_TITLE, true);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, b.x + b.w / 2, top + 11, 0.5, title);
        top += 28;
    }
    top += draw_legend(cr, items, n_items, b.x + 70, top, b.w - 90);
    if (ylabel) {
        set_font(cr, FS_LABEL, false);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        text_rotated(cr, b.x + 14, top + (b.y + b.h - 52 - top) / 2, -M_PI / 2, 0.5, ylabel);
    }
    return (box){b.x, top + 6, b.w, b.y + b.h - top - 6};
}

/* Y ticks, grid and tick labels over plot area pa; widens pa's left margin to fit the labels. */
static box y_axis(cairo_t *cr, box area, axis ay, chart_units u, double bottom_margin) {
    set_font(cr, FS_TICK, false);
    double lw = 0;
    char buf[64];
    for (double v = ay.lo; v <= ay.hi + ay.step * 1e-6; v += ay.step) {
        fmt_tick(buf, sizeof buf, v, ay.step, u);
        double w = text_w(cr, buf);
        if (w > lw) lw = w;
    }
    double left = 34 + lw + 8;
    box pa = {area.x + left, area.y, area.w - left - 24, area.h - bottom_margin};
    for (double v = ay.lo; v <= ay.hi + ay.step * 1e-6; v += ay.step) {
        double y = pa.y + pa.h - (v - ay.lo) / (ay.hi - ay.lo) * pa.h;
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_set_line_width(cr, 1);
        cairo_move_to(cr, pa.x, round(y) + 0.5);
        cairo_line_to(cr, pa.x + pa.w, round(y) + 0.5);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        fmt_tick(buf, sizeof buf, v, ay.step, u);
        text_at(cr, pa.x - 8, y, 1, buf);
    }
    return pa;
}

static void plot_border(cairo_t *cr, box pa) {
    cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, round(pa.x) + 0.5, round(pa.y) + 0.5, round(pa.w), round(pa.h));
    cairo_stroke(cr);
}

/* ---- line charts */

static bool whole_numbers(const chart_lines *c) {
    for (size_t s = 0; s < c->n_series; s++)
        for (size_t i = 0; i < c->series[s].n; i++) {
            double y = c->series[s].y[i];
            if (isfinite(y) && y != floor(y)) return false;
        }
    return true;
}

static void draw_lines(cairo_t *cr, box b, const chart_lines *c) {
    legend_item items[64] = {{0}};
    size_t ni = 0;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    size_t total = 0;
    for (size_t s = 0; s < c->n_series; s++) {
        const chart_series *sr = &c->series[s];
        if (sr->label && ni < 64) items[ni++] = (legend_item){sr->label, (int)s};
        for (size_t i = 0; i < sr->n; i++) {
            if (!isfinite(sr->x[i]) || !isfinite(sr->y[i])) continue;
            total++;
            if (sr->x[i] < xlo) xlo = sr->x[i];
            if (sr->x[i] > xhi) xhi = sr->x[i];
            if (sr->y[i] < ylo) ylo = sr->y[i];
            if (sr->y[i] > yhi) yhi = sr->y[i];
        }
    }
    box area = panel_frame(cr, b, c->title, c->ylabel, items, ni);
    if (!total) {
        no_data(cr, area);
        return;
    }
    if (c->y_units == CHART_PERCENT) {
        ylo = 0;
        yhi = yhi * 1.1 > 1 ? 1 : yhi * 1.1;
        if (yhi < 0.1) yhi = 0.1;
    } else {
        double pad = (yhi - ylo) * 0.05, lo0 = ylo;
        ylo -= pad;
        yhi += pad;
        if (c->y_from_zero && lo0 >= 0 && ylo < 0) ylo = 0; /* no negative axis for data that cannot be */
    }
    axis ay = make_axis(ylo, yhi, c->y_from_zero || c->y_units == CHART_PERCENT, 6);
    if (c->y_units == CHART_PERCENT && ay.hi > 1) ay.hi = 1;
    if (c->y_units == CHART_NUM && ay.step != floor(ay.step) && whole_numbers(c)) {
        /* counts: ticks on whole numbers (2.5 -> 2, 0.5 -> 1) */
        ay.step = ay.step < 1 ? 1 : floor(ay.step);
        ay.lo = floor(ay.lo / ay.step) * ay.step;
        ay.hi = ceil(ay.hi / ay.step) * ay.step;
    }
    box pa = y_axis(cr, area, ay, c->y_units, 52);
    if (xhi == xlo) {
        xlo -= 1;
        xhi += 1;
    }
    double xstep = nice_step(xhi - xlo, pa.w > 600 ? 10 : 6);
    if (c->x_integer && xstep < 1) xstep = 1;
    /* the x range is the data's: lines start and end at the edges */
    set_font(cr, FS_TICK, false);
    char buf[64];
    for (double v = ceil(xlo / xstep - 1e-9) * xstep; v <= xhi + xstep * 1e-6; v += xstep) {
        double x = pa.x + (v - xlo) / (xhi - xlo) * pa.w;
        cairo_set_source_rgb(cr, 0.93, 0.93, 0.93);
        cairo_set_line_width(cr, 1);
        cairo_move_to(cr, round(x) + 0.5, pa.y);
        cairo_line_to(cr, round(x) + 0.5, pa.y + pa.h);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        fmt_tick(buf, sizeof buf, v, xstep, CHART_NUM);
        text_at(cr, x, pa.y + pa.h + 14, 0.5, buf);
    }
    if (c->xlabel) {
        set_font(cr, FS_LABEL, false);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        text_at(cr, pa.x + pa.w / 2, pa.y + pa.h + 38, 0.5, c->xlabel);
    }
    cairo_save(cr);
    cairo_rectangle(cr, pa.x - 5, pa.y - 5, pa.w + 10, pa.h + 10); /* room for the markers at the edges */
    cairo_clip(cr);
    for (size_t i = 0; i < c->n_vlines; i++) {
        double x = pa.x + (c->vlines[i] - xlo) / (xhi - xlo) * pa.w, d[2] = {4, 4};
        cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
        cairo_set_line_width(cr, 1);
        cairo_set_dash(cr, d, 2, 0);
        cairo_move_to(cr, round(x) + 0.5, pa.y);
        cairo_line_to(cr, round(x) + 0.5, pa.y + pa.h);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        if (c->vline_labels && c->vline_labels[i]) {
            set_font(cr, 11, false);
            cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
            text_at(cr, x + 4, pa.y + 10, 0, c->vline_labels[i]);
        }
    }
    for (size_t s = 0; s < c->n_series; s++) {
        const chart_series *sr = &c->series[s];
        size_t pts = 0;
        for (size_t i = 0; i < sr->n; i++) {
            if (!isfinite(sr->x[i]) || !isfinite(sr->y[i])) continue;
            double x = pa.x + (sr->x[i] - xlo) / (xhi - xlo) * pa.w;
            double y = pa.y + pa.h - (sr->y[i] - ay.lo) / (ay.hi - ay.lo) * pa.h;
            if (pts++ == 0) cairo_move_to(cr, x, y);
            else cairo_line_to(cr, x, y);
        }
        if (!pts) continue;
        rgb(cr, (int)s);
        cairo_set_line_width(cr, CHART_LINE_WIDTH);
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
        if (sr->dashed) {
            double d[2] = {8, 5};
            cairo_set_dash(cr, d, 2, 0);
        }
        if (pts > 1) cairo_stroke(cr);
        else cairo_new_path(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        /* markers where points are few enough to tell apart (and for a single point, which has no line) */
        if (pts <= 40 || pts == 1) {
            for (size_t i = 0; i < sr->n; i++) {
                if (!isfinite(sr->x[i]) || !isfinite(sr->y[i])) continue;
                double x = pa.x + (sr->x[i] - xlo) / (xhi - xlo) * pa.w;
                double y = pa.y + pa.h - (sr->y[i] - ay.lo) / (ay.hi - ay.lo) * pa.h;
                cairo_new_sub_path(cr);
                cairo_arc(cr, x, y, 3.75, 0, 2 * M_PI);
            }
            cairo_fill(cr);
        }
    }
    cairo_restore(cr);
    plot_border(cr, pa);
}

/* ---- bar charts */

static void draw_bars(cairo_t *cr, box b, const chart_bars *c) {
    legend_item items[64] = {{0}};
    size_t ni = 0;
    for (size_t k = 0; k < c->n_bars && ni < 64; k++) items[ni++] = (legend_item){c->bars[k], (int)k};
    double ylo = 0, yhi = -INFINITY;
    size_t finite = 0;
    for (size_t g = 0; g < c->n_groups; g++) {
        double stack = 0;
        for (size_t k = 0; k < c->n_bars; k++) {
            double v = c->values[g * c->n_bars + k];
            if (!isfinite(v)) continue;
            finite++;
            stack += v;
            double top = c->stacked ? stack : v;
            if (top > yhi) yhi = top;
            if (v < ylo) ylo = v;
        }
    }
    box area = panel_frame(cr, b, c->title, c->ylabel, items, ni);
    if (!finite) {
        no_data(cr, area);
        return;
    }
    if (c->y_units == CHART_PERCENT) {
        yhi = yhi * 1.15 > 1 ? 1 : yhi * 1.15;
        if (yhi < 0.1) yhi = 0.1;
    } else {
        yhi *= c->value_labels ? 1.12 : 1.04;
    }
    axis ay = make_axis(ylo, yhi, true, 6);
    if (c->y_units == CHART_PERCENT && ay.hi > 1) ay.hi = 1;
    /* group labels: horizontal when they fit their slot, else at 30 degrees (needs a taller margin) */
    set_font(cr, FS_LABEL, false);
    double maxw = 0;
    for (size_t g = 0; g < c->n_groups; g++) {
        double w = text_w(cr, c->groups[g]);
        if (w > maxw) maxw = w;
    }
    double slot_guess = (area.w - 110) / (double)(c->n_groups ? c->n_groups : 1);
    bool slanted = maxw > slot_guess * 0.95;
    double bottom = slanted ? 30 + maxw * 0.5 : 40;
    if (bottom > area.h * 0.4) bottom = area.h * 0.4;
    box pa = y_axis(cr, area, ay, c->y_units, bottom);
    double slot = pa.w / (double)c->n_groups;
    int cols = c->stacked ? 1 : (int)c->n_bars;
    double bw = slot * 0.76 / cols;
    if (bw > 90) bw = 90;
    char buf[64];
    for (size_t g = 0; g < c->n_groups; g++) {
        double gx = pa.x + slot * ((double)g + 0.5), x0 = gx - bw * cols / 2, stack = 0;
        for (size_t k = 0; k < c->n_bars; k++) {
            double v = c->values[g * c->n_bars + k];
            double x = c->stacked ? x0 : x0 + bw * (double)k;
            if (!isfinite(v)) {
                if (!c->stacked) {
                    set_font(cr, FS_TICK, false);
                    cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
                    text_at(cr, x + bw / 2, pa.y + pa.h - 12, 0.5, "n/a");
                }
                continue;
            }
            double base = c->stacked ? stack : 0, top = base + v;
            stack = top;
            double y0 = pa.y + pa.h - (base - ay.lo) / (ay.hi - ay.lo) * pa.h;
            double y1 = pa.y + pa.h - (top - ay.lo) / (ay.hi - ay.lo) * pa.h;
            rgb(cr, (int)k);
            cairo_rectangle(cr, x + 1, y1, bw - 2, y0 - y1);
            cairo_fill(cr);
            if (c->value_labels && !c->stacked) {
                fmt_value(buf, sizeof buf, v, c->y_units);
                set_font(cr, bw < 48 ? 10.5 : FS_TICK, false);
                cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
                text_at(cr, x + bw / 2, y1 - 10, 0.5, buf);
            }
        }
        if (c->value_labels && c->stacked && stack > 0) {
            fmt_value(buf, sizeof buf, stack, c->y_units);
            set_font(cr, FS_TICK, false);
            cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
            text_at(cr, gx, pa.y + pa.h - (stack - ay.lo) / (ay.hi - ay.lo) * pa.h - 10, 0.5, buf);
        }
        set_font(cr, FS_LABEL, false);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        if (slanted) text_rotated(cr, gx + 6, pa.y + pa.h + 10, -M_PI / 6, 1, c->groups[g]);
        else text_at(cr, gx, pa.y + pa.h + 16, 0.5, c->groups[g]);
    }
    plot_border(cr, pa);
}

/* ---- figures */

static void render(cairo_t *cr, const chart_figure *f) {
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    double top = 0;
    if (f->title) {
        set_font(cr, FS_FIG_TITLE, true);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, f->width / 2.0, 24, 0.5, f->title);
        top = 44;
    }
    int rows = f->rows > 0 ? f->rows : 1, cols = f->cols > 0 ? f->cols : 1;
    double pw = (double)f->width / cols, ph = (f->height - top) / rows;
    for (size_t i = 0; i < f->n_panels && i < (size_t)(rows * cols); i++) {
        box b = {pw * (double)(i % (size_t)cols) + 8, top + ph * (double)(i / (size_t)cols) + 4, pw - 16, ph - 8};
        const chart_panel *p = &f->panels[i];
        if (p->kind == CHART_PANEL_LINES && p->lines) draw_lines(cr, b, p->lines);
        else if (p->kind == CHART_PANEL_BARS && p->bars) draw_bars(cr, b, p->bars);
    }
}

static int save_png(const chart_figure *f, const char *path, char *err, size_t errcap) {
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%.4200s.tmp.%ld", path, (long)getpid());
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, f->width, f->height);
    cairo_t *cr = cairo_create(s);
    render(cr, f);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_write_to_png(s, tmp);
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS || rename(tmp, path) != 0) {
        err_set(err, errcap, "%s: cannot write: %s", path,
                st != CAIRO_STATUS_SUCCESS ? cairo_status_to_string(st) : strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int save_svg(const chart_figure *f, const char *path, char *err, size_t errcap) {
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%.4200s.tmp.%ld", path, (long)getpid());
    cairo_surface_t *s = cairo_svg_surface_create(tmp, f->width, f->height);
    cairo_t *cr = cairo_create(s);
    render(cr, f);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_finish(s);
    if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(s);
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS || rename(tmp, path) != 0) {
        err_set(err, errcap, "%s: cannot write: %s", path,
                st != CAIRO_STATUS_SUCCESS ? cairo_status_to_string(st) : strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int chart_save(const chart_figure *f, const char *base, char *err, size_t errcap) {
    if (f->width < 100 || f->height < 100 || f->width > 10000 || f->height > 10000) {
        err_set(err, errcap, "%s: figure size %dx%d outside 100..10000", base, f->width, f->height);
        return -1;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s.png", base);
    if (save_png(f, path, err, errcap)) return -1;
    snprintf(path, sizeof path, "%s.svg", base);
    return save_svg(f, path, err, errcap);
}

chart_figure chart_single(int width, int height, const chart_panel *panel) {
    return (chart_figure){.title = NULL, .width = width, .height = height, .rows = 1, .cols = 1, .panels = panel,
                          .n_panels = 1};
}

void chart_release(void) {
    cairo_debug_reset_static_data();
    FcFini();
}
