#include "train/train_ops.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void train_rmsnorm_fwd(float *y, float *rstd, const float *x, const float *w, int T, int H, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)T * H > 32768)
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * H;
        float *yr = y + (size_t)t * H;
        double ss = 0;
        for (int i = 0; i < H; i++) ss += (double)xr[i] * xr[i];
        float r = 1.0f / sqrtf((float)(ss / H) + eps);
        rstd[t] = r;
        for (int i = 0; i < H; i++) yr[i] = xr[i] * r * w[i];
    }
}

void train_rmsnorm_bwd(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *rstd, int T,
                       int H) {
    /* y_i = w_i x_i r, r = (mean(x^2)+eps)^-1/2, dr/dx_j = -r^3 x_j / H:
     * dx_j = r w_j dy_j - r^3 x_j / H * sum_i(w_i dy_i x_i). */
#pragma omp parallel for schedule(static) if ((size_t)T * H > 32768)
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * H, *g = dy + (size_t)t * H;
        float *d = dx + (size_t)t * H;
        float r = rstd[t];
        double dot = 0;
        for (int i = 0; i < H; i++) dot += (double)w[i] * g[i] * xr[i];
        float c = (float)(dot / H) * r * r * r;
        for (int i = 0; i < H; i++) d[i] = r * w[i] * g[i] - c * xr[i];
    }
    if (dw)
        for (int t = 0; t < T; t++) {
            const float *xr = x + (size_t)t * H, *g = dy + (size_t)t * H;
            float r = rstd[t];
            for (int i = 0; i < H; i++) dw[i] += g[i] * xr[i] * r;
        }
}

void train_rope_table(float *cs, const int *pos, int T, int hd, const float *inv_freq) {
    int half = hd / 2;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            float ang = (float)pos[t] * inv_freq[i];
            cs[(size_t)t * hd + i] = cosf(ang);
            cs[(size_t)t * hd + half + i] = sinf(ang);
        }
}

static void rope_rows(float *v, int T, int nheads, int hd, const float *cs, float sign) {
    int half = hd / 2;
    for (int t = 0; t < T; t++) {
        const float *c = cs + (size_t)t * hd, *s = c + half;
        for (int h = 0; h < nheads; h++) {
            float *x = v + ((size_t)t * nheads + h) * hd;
            for (int i = 0; i < half; i++) {
                float a = x[i], b = x[i + half], sn = sign * s[i];
                x[i] = a * c[i] - b * sn;
                x[i + half] = b * c[i] + a * sn;
            }
        }
    }
}

void train_rope_fwd(float *v, int T, int nheads, int hd, const float *cs) { rope_rows(v, T, nheads, hd, cs, 1.0f); }
/* The rotation is orthogonal: its transpose is the rotation by the opposite angle. */
void train_rope_bwd(float *dv, int T, int nheads, int hd, const float *cs) { rope_rows(dv, T, nheads, hd, cs, -1.0f); }


/* Keys (or values) of one kv head of one sequence transposed to [hd][len], so that the scores of a query
 * row against all keys are axpys over the keys (vectorised) instead of short dot products. */
static void transpose_head(float *dst, const float *src, int len, int stride, int hd) {
    for (int j = 0; j < len; j++)
        for (int d = 0; d < hd; d++) dst[(size_t)d * len + j] = src[(size_t)j * stride + d];
}

/* sc[0..n) = (q . k_j) * scale from the transposed keys kt[hd][ld]. */
static inline void scores_row(float *sc, const float *q, const float *kt, int ld, int n, int hd, float scale) {
    memset(sc, 0, (size_t)n * sizeof(float));
    for (int d = 0; d < hd; d++) {
        const float qd = q[d] * scale, *kr = kt + (size_t)d * ld;
#pragma omp simd
        for (int j = 0; j < n; j++) sc[j] += qd * kr[j];
    }
}

void train_attn_fwd(float *out, float *lse, const float *q, const float *k, const float *v, int n_seqs,
                    const int *seq_start, int nh, int nkv, int hd) {
    const int qd = nh * hd, kvd = nkv * hd, group = nh / nkv;
    const float scale = 1.0f / sqrtf((float)hd);
    int maxlen = 1;
    for (int s = 0; s < n_seqs; s++)
        if (seq_start[s + 1] - seq_start[s] > maxlen) maxlen = seq_start[s + 1] - seq_start[s];
#pragma omp parallel if ((size_t)seq_start[n_seqs] * maxlen * nh > 65536)
    {
        float *sc = malloc((size_t)maxlen * sizeof(float)), *kt = malloc((size_t)maxlen * hd * sizeof(float));
#pragma omp for collapse(2) schedule(dynamic, 1)
        for (int s = 0; s < n_seqs; s++)
            for (int h = 0; h < nh; h++) {
                const int t0 = seq_start[s], len = seq_start[s + 1] - t0, kvh = h / group;
                transpose_head(kt, k + (size_t)t0 * kvd + (size_t)kvh * hd, len, kvd, hd);
                for (int i = 0; i < len; i++) {
                    const int t = t0 + i;
                    scores_row(sc, q + (size_t)t * qd + (size_t)h * hd, kt, len, i + 1, hd, scale);
                    float mx = -INFINITY;
                    for (int j = 0; j <= i; j++) mx = sc[j] > mx ? sc[j] : mx;
                    float sum = 0;
                    for (int j = 0; j <= i; j++) {
                        sc[j] = expf(sc[j] - mx);
                        sum += sc[j];
                    }
                    float inv = 1.0f / sum;
                    float *o = out + (size_t)t * qd + (size_t)h * hd;
                    memset(o, 0, (size_t)hd * sizeof(float));
                    for (int j = 0; j <= i; j++) {
                        const float *vr = v + (size_t)(t0 + j) * kvd + (size_t)kvh * hd;
                        const float a = sc[j] * inv;
#pragma omp simd
                        for (int d = 0; d < hd; d++) o[d] += a * vr[d];
                    }
                    lse[(size_t)t * nh + h] = mx + logf(sum);
                }
            }
        free(sc);
        free(kt);
    }
}

void train_attn_bwd(float *dq, float *dk, float *dv, const float *dout, const float *out, const float *lse,
                    const float *q, const float *k, const float *v, int n_seqs, const int *seq_start, int nh, int nkv,
                    int hd) {
    const int qd = nh * hd, kvd = nkv * hd, group = nh / nkv;
    const float scale = 1.0f / sqrtf((float)hd);
    int maxlen = 1;
    for (int s = 0; s < n_seqs; s++)
        if (seq_start[s + 1] - seq_start[s] > maxlen) maxlen = seq_start[s + 1] - seq_start[s];
    /* One task per (sequence, kv head): the query heads sharing a kv head write the same dk/dv rows. */
#pragma omp parallel if ((size_t)seq_start[n_seqs] * maxlen * nh > 65536)
    {
        float *p = malloc((size_t)maxlen * sizeof(float)), *dp = malloc((size_t)maxlen * sizeof(float));
        float *kt = malloc((size_t)maxlen * hd * sizeof(float)), *vt = malloc((size_t)maxlen * hd * sizeof(float));
#pragma omp for collapse(2) schedule(dynamic, 1)
        for (int s = 0; s < n_seqs; s++)
            for (int kvh = 0; kvh < nkv; kvh++) {
                const int t0 = seq_start[s], len = seq_start[s + 1] - t0;
                transpose_head(kt, k + (size_t)t0 * kvd + (size_t)kvh * hd, len, kvd, hd);
                transpose_head(vt, v + (size_t)t0 * kvd + (size_t)kvh * hd, len, kvd, hd);
                for (int j = 0; j < len; j++) {
                    memset(dk + (size_t)(t0 + j) * kvd + (size_t)kvh * hd, 0, (size_t)hd * sizeof(float));
                    memset(dv + (size_t)(t0 + j) * kvd + (size_t)kvh * hd, 0, (size_t)hd * sizeof(float));
                }
                for (int h = kvh * group; h < (kvh + 1) * group; h++)
                    for (int i = 0; i < len; i++) {
                        const int t = t0 + i;
                        const float *qr = q + (size_t)t * qd + (size_t)h * hd;
                        const float *dor = dout + (size_t)t * qd + (size_t)h * hd;
                        const float *orow = out + (size_t)t * qd + (size_t)h * hd;
                        float *dqr = dq + (size_t)t * qd + (size_t)h * hd;
                        const float l = lse[(size_t)t * nh + h];
                        float D = 0;
#pragma omp simd reduction(+ : D)
                        for (int d = 0; d < hd; d++) D += dor[d] * orow[d];
                        scores_row(p, qr, kt, len, i + 1, hd, scale);
                        scores_row(dp, dor, vt, len, i + 1, hd, 1.0f);
                        for (int j = 0; j <= i; j++) {
                            p[j] = expf(p[j] - l);
                            dp[j] = p[j] * (dp[j] - D) * scale; /* dscore */
                        }
                        memset(dqr, 0, (size_t)hd * sizeof(float));
                        for (int j = 0; j <= i; j++) {
                            const size_t kv_off = (size_t)(t0 + j) * kvd + (size_t)kvh * hd;
                            const float *kr = k + kv_off;
                            float *dkr = dk + kv_off, *dvr = dv + kv_off;
                            const float ds = dp[j], pj = p[j];
#pragma omp simd
                            for (int d = 0; d < hd; d++) {
                                dqr[d] += ds * kr[d];
                                dkr[d] += ds * qr[d];
                                dvr[d] += pj * dor[d];
                            }
                        }
                    }
            }
        free(p);
        free(dp);
        free(kt);
        free(vt);
    }
}

void train_swiglu_fwd(float *a, const float *g, const float *u, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) a[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void train_swiglu_bwd(float *dg, float *du, const float *da, const float *g, const float *u, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float sg = 1.0f / (1.0f + expf(-g[i]));
        float silu = g[i] * sg;
        du[i] = da[i] * silu;
        dg[i] = da[i] * u[i] * sg * (1.0f + g[i] * (1.0f - sg));
    }
}

void train_matmul_fwd(float *y, const float *x, const float *W, const float *b, int M, int N, int K, int accumulate) {
    if (M <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, W, K, accumulate ? 1.0f : 0.0f, y, N);
    if (b)
        for (int m = 0; m < M; m++) {
            float *yr = y + (size_t)m * N;
            for (int n = 0; n < N; n++) yr[n] += b[n];
        }
}

void train_matmul_dx(float *dx, const float *dy, const float *W, int M, int N, int K, int accumulate) {
    if (M <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N, 1.0f, dy, N, W, K, accumulate ? 1.0f : 0.0f, dx,
                K);
}

void train_matmul_dw(float *dW, float *db, const float *dy, const float *x, int M, int N, int K) {
    if (M <= 0) return;
    if (dW) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M, 1.0f, dy, N, x, K, 1.0f, dW, K);
    if (db)
        for (int m = 0; m < M; m++) {
            const float *g = dy + (size_t)m * N;
            for (int n = 0; n < N; n++) db[n] += g[n];
        }
}

void train_xent_rows(float *logits, const int *targets, float *nll, int n, int V, float scale) {
#pragma omp parallel for schedule(static) if ((size_t)n * V > 65536)
    for (int r = 0; r < n; r++) {
        float *row = logits + (size_t)r * V;
        float mx = -INFINITY;
        for (int i = 0; i < V; i++) mx = row[i] > mx ? row[i] : mx;
        double sum = 0;
        for (int i = 0; i < V; i++) sum += exp((double)(row[i] - mx));
        float lse = mx + (float)log(sum);
        nll[r] = lse - row[targets[r]];
        if (scale != 0.0f) {
            for (int i = 0; i < V; i++) row[i] = scale * expf(row[i] - lse);
            row[targets[r]] -= scale;
        }
    }
}
