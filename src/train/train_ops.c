#include "train/train_ops.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
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


/* ---------- attention ---------- */

/* OpenBLAS runs single-threaded while the attention's OpenMP threads each call it (one thread pool, not
 * two fighting over the cores); returns the setting to restore. */
static int blas_one_thread(void) {
    int n = openblas_get_num_threads();
    if (n != 1) openblas_set_num_threads(1);
    return n;
}
static void blas_restore(int n) {
    if (n != 1) openblas_set_num_threads(n);
}

/* Query rows per block: the scores of a block against its keys are one product (len x ATT_BLOCK floats). */
enum { ATT_BLOCK = 64 };

static int max_seq_len(int n_seqs, const int *seq_start) {
    int maxlen = 1;
    for (int s = 0; s < n_seqs; s++)
        if (seq_start[s + 1] - seq_start[s] > maxlen) maxlen = seq_start[s + 1] - seq_start[s];
    return maxlen;
}

/* Each (sequence, head) in blocks of query rows i0..i0+nb-1 against keys 0..i0+nb-1: S = scale Q K^T by
 * sgemm, a causal softmax per row (lse keeps its log-sum-exp), then O = P V by sgemm. */
void train_attn_fwd(float *out, float *lse, const float *q, const float *k, const float *v, int n_seqs,
                    const int *seq_start, int nh, int nkv, int hd) {
    const int qd = nh * hd, kvd = nkv * hd, group = nh / nkv;
    const float scale = 1.0f / sqrtf((float)hd);
    const int maxlen = max_seq_len(n_seqs, seq_start);
    const int blas = blas_one_thread();
#pragma omp parallel if ((size_t)seq_start[n_seqs] * maxlen * nh > 65536)
    {
        float *S = malloc((size_t)ATT_BLOCK * maxlen * sizeof(float));
#pragma omp for collapse(2) schedule(dynamic, 1)
        for (int s = 0; s < n_seqs; s++)
            for (int h = 0; h < nh; h++) {
                if (!S) continue;
                const int t0 = seq_start[s], len = seq_start[s + 1] - t0, kvh = h / group;
                const float *Q = q + (size_t)t0 * qd + (size_t)h * hd;
                const float *K = k + (size_t)t0 * kvd + (size_t)kvh * hd, *V = v + (size_t)t0 * kvd + (size_t)kvh * hd;
                float *O = out + (size_t)t0 * qd + (size_t)h * hd;
                for (int i0 = 0; i0 < len; i0 += ATT_BLOCK) {
                    const int nb = len - i0 < ATT_BLOCK ? len - i0 : ATT_BLOCK, nk = i0 + nb;
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, nk, hd, scale, Q + (size_t)i0 * qd, qd, K,
                                kvd, 0.0f, S, nk);
                    for (int r = 0; r < nb; r++) {
                        float *row = S + (size_t)r * nk;
                        const int n = i0 + r + 1;
                        lse[(size_t)(t0 + i0 + r) * nh + h] = mm_softmax_row(row, n);
                        for (int j = n; j < nk; j++) row[j] = 0;
                    }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, hd, nk, 1.0f, S, nk, V, kvd, 0.0f,
                                O + (size_t)i0 * qd, qd);
                }
            }
        free(S);
    }
    blas_restore(blas);
}

/* One task per (sequence, kv head): the query heads sharing a kv head add to the same dk/dv rows. Per block
 * of query rows: P = exp(scale Q K^T - lse), dP = dO V^T, dS = P (dP - rowsum(dO O)) scale, then dQ = dS K,
 * dK += dS^T Q, dV += P^T dO, all by sgemm. */
void train_attn_bwd(float *dq, float *dk, float *dv, const float *dout, const float *out, const float *lse,
                    const float *q, const float *k, const float *v, int n_seqs, const int *seq_start, int nh, int nkv,
                    int hd) {
    const int qd = nh * hd, kvd = nkv * hd, group = nh / nkv;
    const float scale = 1.0f / sqrtf((float)hd);
    const int maxlen = max_seq_len(n_seqs, seq_start);
    const int blas = blas_one_thread();
#pragma omp parallel if ((size_t)seq_start[n_seqs] * maxlen * nh > 65536)
    {
        float *P = malloc((size_t)ATT_BLOCK * maxlen * sizeof(float));
        float *dP = malloc((size_t)ATT_BLOCK * maxlen * sizeof(float));
#pragma omp for collapse(2) schedule(dynamic, 1)
        for (int s = 0; s < n_seqs; s++)
            for (int kvh = 0; kvh < nkv; kvh++) {
                if (!P || !dP) continue;
                const int t0 = seq_start[s], len = seq_start[s + 1] - t0;
                const float *K = k + (size_t)t0 * kvd + (size_t)kvh * hd, *V = v + (size_t)t0 * kvd + (size_t)kvh * hd;
                float *dK = dk + (size_t)t0 * kvd + (size_t)kvh * hd, *dV = dv + (size_t)t0 * kvd + (size_t)kvh * hd;
                for (int j = 0; j < len; j++) {
                    memset(dK + (size_t)j * kvd, 0, (size_t)hd * sizeof(float));
                    memset(dV + (size_t)j * kvd, 0, (size_t)hd * sizeof(float));
                }
                for (int h = kvh * group; h < (kvh + 1) * group; h++) {
                    const float *Q = q + (size_t)t0 * qd + (size_t)h * hd;
                    const float *dO = dout + (size_t)t0 * qd + (size_t)h * hd, *O = out + (size_t)t0 * qd + (size_t)h * hd;
                    float *dQ = dq + (size_t)t0 * qd + (size_t)h * hd;
                    for (int i0 = 0; i0 < len; i0 += ATT_BLOCK) {
                        const int nb = len - i0 < ATT_BLOCK ? len - i0 : ATT_BLOCK, nk = i0 + nb;
                        const float *Qb = Q + (size_t)i0 * qd, *dOb = dO + (size_t)i0 * qd;
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, nk, hd, scale, Qb, qd, K, kvd, 0.0f,
                                    P, nk);
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, nk, hd, 1.0f, dOb, qd, V, kvd, 0.0f,
                                    dP, nk);
                        for (int r = 0; r < nb; r++) {
                            const float *dor = dOb + (size_t)r * qd, *orow = O + (size_t)(i0 + r) * qd;
                            float *pr = P + (size_t)r * nk, *dpr = dP + (size_t)r * nk;
                            const float l = lse[(size_t)(t0 + i0 + r) * nh + h];
                            const int n = i0 + r + 1;
                            float D = 0;
#pragma omp simd reduction(+ : D)
                            for (int d = 0; d < hd; d++) D += dor[d] * orow[d];
#pragma omp simd
                            for (int j = 0; j < n; j++) {
                                pr[j] = mm_expf(pr[j] - l);
                                dpr[j] = pr[j] * (dpr[j] - D) * scale; /* dscore */
                            }
                            for (int j = n; j < nk; j++) pr[j] = dpr[j] = 0;
                        }
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, hd, nk, 1.0f, dP, nk, K, kvd, 0.0f,
                                    dQ + (size_t)i0 * qd, qd);
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, hd, nb, 1.0f, dP, nk, Qb, qd, 1.0f,
                                    dK, kvd);
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, hd, nb, 1.0f, P, nk, dOb, qd, 1.0f,
                                    dV, kvd);
                    }
                }
            }
        free(P);
        free(dP);
    }
    blas_restore(blas);
}

void train_swiglu_fwd(float *a, const float *g, const float *u, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) a[i] = g[i] / (1.0f + mm_expf(-g[i])) * u[i];
}

void train_swiglu_bwd(float *dg, float *du, const float *da, const float *g, const float *u, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float sg = 1.0f / (1.0f + mm_expf(-g[i]));
        float silu = g[i] * sg;
        du[i] = da[i] * silu;
        dg[i] = da[i] * u[i] * sg * (1.0f + g[i] * (1.0f - sg));
    }
}

void train_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                 int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    const CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    if ((double)M * N * K < 2e6 || openblas_get_num_threads() != 1) nt = 1;
    if (nt == 1) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const bool by_rows = M >= N;
    const int total = by_rows ? M : N;
#pragma omp parallel num_threads(nt)
    {
        const int n = omp_get_num_threads(), per = ((total + n - 1) / n + 15) & ~15;
        const int s0 = omp_get_thread_num() * per, s1 = total < s0 + per ? total : s0 + per;
        if (s0 < s1) {
            if (by_rows)
                cblas_sgemm(CblasRowMajor, ta, tb, s1 - s0, N, K, alpha, trans_a ? A + s0 : A + (size_t)s0 * lda, lda, B,
                            ldb, beta, C + (size_t)s0 * ldc, ldc);
            else
                cblas_sgemm(CblasRowMajor, ta, tb, M, s1 - s0, K, alpha, A, lda, trans_b ? B + (size_t)s0 * ldb : B + s0,
                            ldb, beta, C + s0, ldc);
        }
    }
}

void train_matmul_fwd(float *y, const float *x, const float *W, const float *b, int M, int N, int K, int accumulate) {
    if (M <= 0) return;
    train_sgemm(false, true, M, N, K, 1.0f, x, K, W, K, accumulate ? 1.0f : 0.0f, y, N);
    if (b)
        for (int m = 0; m < M; m++) {
            float *yr = y + (size_t)m * N;
            for (int n = 0; n < N; n++) yr[n] += b[n];
        }
}

void train_matmul_dx(float *dx, const float *dy, const float *W, int M, int N, int K, int accumulate) {
    if (M <= 0) return;
    train_sgemm(false, false, M, K, N, 1.0f, dy, N, W, K, accumulate ? 1.0f : 0.0f, dx, K);
}

void train_matmul_dw(float *dW, float *db, const float *dy, const float *x, int M, int N, int K) {
    if (M <= 0) return;
    if (dW) train_sgemm(true, false, N, K, M, 1.0f, dy, N, x, K, 1.0f, dW, K);
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
#pragma omp simd reduction(max : mx)
        for (int i = 0; i < V; i++) mx = row[i] > mx ? row[i] : mx;
        double sum = 0; /* over chunks of fp32 partial sums */
        for (int i0 = 0; i0 < V; i0 += 4096) {
            const int i1 = V - i0 < 4096 ? V : i0 + 4096;
            float part = 0;
#pragma omp simd reduction(+ : part)
            for (int i = i0; i < i1; i++) part += mm_expf(row[i] - mx);
            sum += part;
        }
        float lse = mx + (float)log(sum);
        nll[r] = lse - row[targets[r]];
        if (scale != 0.0f) {
#pragma omp simd
            for (int i = 0; i < V; i++) row[i] = scale * mm_expf(row[i] - lse);
            row[targets[r]] -= scale;
        }
    }
}
