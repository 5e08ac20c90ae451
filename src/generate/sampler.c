#include "generate/sampler.h"

#include "kernels/expf.h"

#include <math.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BLOCK = 512, NBUCKET = 1 << 15 };

/* One candidate token: its score (a logit or a probability) and its id. */
typedef struct {
    float v;
    int id;
} cand;

struct gen_sampler {
    int vocab;
    float *prob;         /* unnormalised probabilities, one per id */
    cand *work;          /* selection workspace */
    float *block;        /* probability mass per block of BLOCK ids */
    double *bucket_mass; /* histogram of probabilities for the top-p cut */
};

/* a ranks before b: higher score first, then lower id. */
static inline bool ranks_before(const cand *a, const cand *b) { return a->v > b->v || (a->v == b->v && a->id < b->id); }

static int cmp_rank(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    return ranks_before(a, b) ? -1 : ranks_before(b, a) ? 1 : 0;
}

gen_sampler *gen_sampler_create(int vocab) {
    if (vocab <= 0) return NULL;
    gen_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->vocab = vocab;
    s->prob = malloc((size_t)vocab * sizeof *s->prob);
    s->work = malloc((size_t)vocab * sizeof *s->work);
    s->block = malloc(((size_t)vocab / BLOCK + 1) * sizeof *s->block);
    s->bucket_mass = malloc(NBUCKET * sizeof *s->bucket_mass);
    if (!s->prob || !s->work || !s->block || !s->bucket_mass) {
        gen_sampler_free(s);
        return NULL;
    }
    return s;
}

void gen_sampler_free(gen_sampler *s) {
    if (!s) return;
    free(s->prob);
    free(s->work);
    free(s->block);
    free(s->bucket_mass);
    free(s);
}

int gen_sampling_check(const gen_sampling *p, char *err, size_t errcap) {
    if (!(p->temperature >= 0.0f) || !isfinite(p->temperature)) {
        snprintf(err, errcap, "temperature must be a finite number >= 0 (got %g)", (double)p->temperature);
        return -1;
    }
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f)) {
        snprintf(err, errcap, "top_p must be in (0, 1] (got %g)", (double)p->top_p);
        return -1;
    }
    if (p->top_k < 0) {
        snprintf(err, errcap, "top_k must be >= 0 (got %d)", p->top_k);
        return -1;
    }
    return 0;
}

/* e^x for x <= 0 (mm_expf); NaN and x <= -87 give 0, positive x gives 1. */
static inline float exp_nonpos(float x) { return x > -87.0f ? mm_expf(x < 0.0f ? x : 0.0f) : 0.0f; }

/* out[i] = exp((in[i] - maxv) * inv_t), with NaN counting as -inf (maxv is the largest finite input). */
/* out[i] = exp((in[i] - maxv) * inv_t), with NaN counting as -inf (maxv is the largest finite input).
 * The compiler cannot vectorise the clamps in exp_nonpos (they may trap), so AVX-512 gets its own loop
 * computing the same polynomial. */
static void exp_row(float *restrict out, const float *restrict in, int n, float maxv, float inv_t) {
    int i = 0;
#ifdef __AVX512F__
    const __m512 vmax = _mm512_set1_ps(maxv), vt = _mm512_set1_ps(inv_t), lo = _mm512_set1_ps(-87.0f),
                 zero = _mm512_setzero_ps();
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(in + i), vmax), vt);
        __mmask16 keep = _mm512_cmp_ps_mask(x, lo, _CMP_GT_OQ); /* false for NaN and x <= -87 */
        x = _mm512_min_ps(_mm512_max_ps(x, lo), zero);           /* max(NaN, lo) gives lo */
        __m512i ni = _mm512_cvttps_epi32(_mm512_sub_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                                       _mm512_set1_ps(0.5f)));
        __m512 nf = _mm512_cvtepi32_ps(ni);
        __m512 r = _mm512_fnmadd_ps(nf, _mm512_set1_ps(0.693359375f), x);
        r = _mm512_fmadd_ps(nf, _mm512_set1_ps(2.12194440e-4f), r);
        __m512 p = _mm512_set1_ps(1.9875691500e-4f);
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
        p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
        __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(ni, _mm512_set1_epi32(127)), 23));
        _mm512_storeu_ps(out + i, _mm512_maskz_mul_ps(keep, p, scale));
    }
#endif
    for (; i < n; i++) out[i] = exp_nonpos((in[i] - maxv) * inv_t);
}

/* Largest finite logit and its lowest id; -1 when none is finite. */
static int argmax(const float *logits, int vocab, float *maxv) {
    int best = -1;
    float bv = -INFINITY;
    for (int i = 0; i < vocab; i++) {
        float v = logits[i];
        if (v > bv && isfinite(v)) {
            bv = v;
            best = i;
        }
    }
    *maxv = bv;
    return best;
}

/* Moves the k best-ranked of c[0..n) to c[0..k) (in no particular order). Quickselect, O(n) expected. */
static void select_top(cand *c, int n, int k) {
    int lo = 0, hi = n;
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        /* median of three as pivot, moved to hi-1 */
        cand *a = &c[lo], *b = &c[mid], *z = &c[hi - 1], t;
        if (ranks_before(b, a)) { t = *a; *a = *b; *b = t; }
        if (ranks_before(z, a)) { t = *a; *a = *z; *z = t; }
        if (ranks_before(z, b)) { t = *b; *b = *z; *z = t; }
        t = *b; *b = *z; *z = t;
        cand pivot = c[hi - 1];
        int g = lo;
        for (int i = lo; i < hi - 1; i++)
            if (ranks_before(&c[i], &pivot)) {
                t = c[i]; c[i] = c[g]; c[g] = t;
                g++;
            }
        t = c[g]; c[g] = c[hi - 1]; c[hi - 1] = t;
        /* c[lo..g) rank before the pivot at g, c[g+1..hi) after it */
        if (g + 1 == k || g == k) return;
        if (k < g) hi = g;
        else lo = g + 1;
    }
}

/* Heap of the k best candidates seen so far, worst-ranked at the root (for small k). */
static void sift_down(cand *h, int k, int i) {
    for (;;) {
        int w = i, l = 2 * i + 1, r = l + 1;
        if (l < k && ranks_before(&h[w], &h[l])) w = l;
        if (r < k && ranks_before(&h[w], &h[r])) w = r;
        if (w == i) return;
        cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* Writes the k best finite logits to c[0..k) ranked best first; returns k (fewer when fewer are finite). */
static int top_k_logits(const float *logits, int vocab, int k, cand *c) {
    int n = 0, i = 0;
    if (k <= 1024) {
        for (; i < vocab && n < k; i++)
            if (isfinite(logits[i])) c[n++] = (cand){logits[i], i};
        for (int j = n / 2 - 1; j >= 0; j--) sift_down(c, n, j);
        /* later ids rank after equal earlier ones, so a strict > decides */
        for (; i < vocab; i++) {
            float v = logits[i];
            if (v > c[0].v && isfinite(v)) {
                c[0] = (cand){v, i};
                sift_down(c, n, 0);
            }
        }
    } else {
        for (; i < vocab; i++)
            if (isfinite(logits[i])) c[n++] = (cand){logits[i], i};
        if (k < n) select_top(c, n, k);
        if (k < n) n = k;
    }
    qsort(c, (size_t)n, sizeof *c, cmp_rank);
    return n;
}

typedef enum { MODE_GREEDY, MODE_TOPK, MODE_FULL } sample_mode;

/* The candidate set of one call, built by prepare():
 * GREEDY: the id in greedy.
 * TOPK: s->work[0..m) ranked best first, unnormalised probabilities in .v.
 * FULL: s->prob[] unnormalised per id, 0 for the ids cut by top-p; s->block[j] is the mass of block j. */
typedef struct {
    sample_mode mode;
    int greedy;
    int m;
    double mass; /* total unnormalised probability of the members */
} support;

/* Positive floats order like their bit patterns; the top 17 bits give 2^15 buckets of width 2^(1/128). */
static inline int bucket_of(float v) {
    union {
        float f;
        uint32_t u;
    } b = {.f = v};
    return (int)(b.u >> 16);
}

/* The nucleus boundary by a histogram of the probabilities: the buckets above the one where the
 * mass reaches target are kept whole, and only that bucket is sorted. */
static cand nucleus_boundary(gen_sampler *s, double target) {
    const float *pr = s->prob;
    int vocab = s->vocab;
    double *bmass = s->bucket_mass;
    memset(bmass, 0, NBUCKET * sizeof *bmass);
    for (int i = 0; i < vocab; i++)
        if (pr[i] > 0.0f) bmass[bucket_of(pr[i])] += pr[i];
    double acc = 0.0;
    int b = NBUCKET - 1;
    for (; b > 0; b--) {
        if (bmass[b] > 0.0 && acc + bmass[b] >= target) break;
        acc += bmass[b];
    }
    cand *c = s->work;
    int n = 0;
    for (int i = 0; i < vocab; i++)
        if (pr[i] > 0.0f && bucket_of(pr[i]) == b) c[n++] = (cand){pr[i], i};
    if (n == 0) { /* rounding left the target unreached: keep every positive probability */
        float lo = INFINITY;
        int id = 0;
        for (int i = 0; i < vocab; i++)
            if (pr[i] > 0.0f && (pr[i] < lo || (pr[i] == lo && i > id))) lo = pr[i], id = i;
        return (cand){lo, id};
    }
    qsort(c, (size_t)n, sizeof *c, cmp_rank);
    for (int i = 0; i < n; i++) {
        acc += c[i].v;
        if (acc >= target) return c[i];
    }
    return c[n - 1];
}

static int prepare(gen_sampler *s, const float *logits, const gen_sampling *p, support *sp) {
    int vocab = s->vocab;
    float maxv;
    int best = argmax(logits, vocab, &maxv);
    if (best < 0) return -1;
    memset(sp, 0, sizeof *sp);
    if (p->temperature <= 0.0f || p->top_k == 1) {
        sp->mode = MODE_GREEDY;
        sp->greedy = best;
        return 0;
    }
    float inv_t = 1.0f / p->temperature;
    if (p->top_k > 0 && p->top_k < vocab) {
        cand *c = s->work;
        int k = top_k_logits(logits, vocab, p->top_k, c);
        double total = 0.0;
        for (int i = 0; i < k; i++) {
            c[i].v = exp_nonpos((c[i].v - maxv) * inv_t);
            total += c[i].v;
        }
        int m = k;
        double mass = total;
        if (p->top_p < 1.0f) {
            double target = (double)p->top_p * total, acc = 0.0;
            for (int i = 0; i < k; i++) {
                acc += c[i].v;
                if (acc >= target) {
                    m = i + 1;
                    mass = acc;
                    break;
                }
            }
        }
        sp->mode = MODE_TOPK;
        sp->m = m;
        sp->mass = mass;
        return 0;
    }
    float *pr = s->prob;
    exp_row(pr, logits, vocab, maxv, inv_t);
    sp->mode = MODE_FULL;
    if (p->top_p < 1.0f) {
        double total = 0.0;
        for (int b0 = 0; b0 < vocab; b0 += BLOCK) {
            int b1 = b0 + BLOCK < vocab ? b0 + BLOCK : vocab;
            float part = 0.0f;
            #pragma omp simd reduction(+ : part)
            for (int i = b0; i < b1; i++) part += pr[i];
            total += part;
        }
        cand last = nucleus_boundary(s, (double)p->top_p * total);
        /* zero what ranks after the boundary, so the blocks below sum the nucleus only */
        for (int i = 0; i < vocab; i++)
            if (pr[i] < last.v || (pr[i] == last.v && i > last.id)) pr[i] = 0.0f;
    }
    double mass = 0.0;
    for (int b0 = 0, j = 0; b0 < vocab; b0 += BLOCK, j++) {
        int b1 = b0 + BLOCK < vocab ? b0 + BLOCK : vocab;
        float part = 0.0f;
        #pragma omp simd reduction(+ : part)
        for (int i = b0; i < b1; i++) part += pr[i];
        s->block[j] = part;
        mass += part;
    }
    sp->mass = mass;
    return 0;
}

int gen_sample_lp(gen_sampler *s, const float *logits, const gen_sampling *p, rng_state *rng, float *lp) {
    support sp;
    if (lp) *lp = 0.0f;
    if (prepare(s, logits, p, &sp) != 0) return -1;
    if (sp.mode == MODE_GREEDY) return sp.greedy;
    double target = rng_double(rng) * sp.mass, acc = 0.0;
    if (sp.mode == MODE_TOPK) {
        const cand *c = s->work;
        int k = sp.m - 1;
        for (int i = 0; i < sp.m; i++) {
            acc += c[i].v;
            if (acc > target) {
                k = i;
                break;
            }
        }
        if (lp) *lp = (float)(log(c[k].v) - log(sp.mass));
        return c[k].id;
    }
    /* find the block, then the id inside it */
    const float *pr = s->prob;
    int nblocks = (s->vocab + BLOCK - 1) / BLOCK, j = 0, last_block = -1;
    for (; j < nblocks; j++) {
        if (s->block[j] > 0.0f) last_block = j;
        if (acc + s->block[j] > target) break;
        acc += s->block[j];
    }
    if (j == nblocks) j = last_block; /* rounding: the last block with mass */
    int b0 = j * BLOCK, b1 = b0 + BLOCK < s->vocab ? b0 + BLOCK : s->vocab, last = -1;
    for (int i = b0; i < b1; i++) {
        if (pr[i] <= 0.0f) continue;
        acc += pr[i];
        last = i;
        if (acc > target) break;
    }
    if (lp && last >= 0) *lp = (float)(log((double)pr[last]) - log(sp.mass));
    return last;
}

int gen_sample(gen_sampler *s, const float *logits, const gen_sampling *p, rng_state *rng) {
    return gen_sample_lp(s, logits, p, rng, NULL);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int gen_sample_support(gen_sampler *s, const float *logits, const gen_sampling *p, int *ids, double *probs) {
    support sp;
    if (prepare(s, logits, p, &sp) != 0) return -1;
    if (sp.mode == MODE_GREEDY) {
        ids[0] = sp.greedy;
        probs[0] = 1.0;
        return 1;
    }
    int n = 0;
    if (sp.mode == MODE_TOPK) {
        /* s->prob is free in this mode: it maps ids to their probabilities */
        for (int i = 0; i < sp.m; i++) {
            ids[n++] = s->work[i].id;
            s->prob[s->work[i].id] = s->work[i].v;
        }
        qsort(ids, (size_t)n, sizeof *ids, cmp_int);
        for (int i = 0; i < n; i++) probs[i] = s->prob[ids[i]] / sp.mass;
        return n;
    }
    for (int i = 0; i < s->vocab; i++)
        if (s->prob[i] > 0.0f) {
            ids[n] = i;
            probs[n] = s->prob[i] / sp.mass;
            n++;
        }
    return n;
}

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void gen_seed_stream(rng_state *r, uint64_t seed, uint64_t prompt_idx, uint64_t sample_idx) {
    uint64_t h = mix64(seed + 0x9e3779b97f4a7c15ULL);
    h = mix64(h ^ (prompt_idx * 0xd1b54a32d192ed03ULL + 0x8cb92ba72f3d8dd7ULL));
    h = mix64(h ^ (sample_idx * 0xaef17502108ef2d9ULL + 0x4f1bbcdcbfa53e0bULL));
    rng_seed(r, h);
}
