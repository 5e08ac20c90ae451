/* model: a Hugging Face causal LM (Qwen2ForCausalLM, LlamaForCausalLM) loaded from a model folder,
 * and its forward pass on the CPU with a paged-by-slot KV cache.
 *
 * Ownership: model_load() returns a model that owns its config, its weights (memory-mapped from the
 * safetensors files where the dtype allows it) and its scratch buffers; model_free() releases all.
 * A kv_cache is owned by its creator and must be freed before the model it was made for.
 * Functions that can fail return 0 on success and -1 with a message "FILE: what is wrong" in err.
 *
 * Threads: the forward pass uses OpenMP (omp_get_max_threads() threads) and calls BLAS from inside
 * its parallel regions, so model_load() sets OpenBLAS to one thread (openblas_set_num_threads(1)):
 * a single thread pool instead of two pools spinning against each other. A model is not reentrant:
 * its scratch buffers are shared by model_forward/model_forward_full/model_logprobs calls, so use
 * one model from one thread at a time (batch work into one model_forward call instead). */
#ifndef HF_MODEL_H
#define HF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_MAX_EOS 8

typedef struct {
    char arch[64];            /* "Qwen2ForCausalLM" or "LlamaForCausalLM" */
    int vocab_size;           /* rows of the embedding (151936 for Qwen2.5) */
    int hidden_size;
    int intermediate_size;
    int num_layers;
    int num_heads;
    int num_kv_heads;
    int head_dim;             /* hidden_size / num_heads unless config says otherwise */
    int max_position;         /* max_position_embeddings */
    double rope_theta;
    double rms_eps;
    bool tie_embeddings;      /* lm_head shares embed_tokens */
    bool attn_bias;           /* q/k/v biases (Qwen2: true, Llama: false) */
    int bos_id;               /* -1 when none */
    int eos_ids[MODEL_MAX_EOS]; /* from generation_config.json (and config.json), deduplicated */
    int n_eos;
} model_config;

typedef struct model model;

/* Loads config.json, generation_config.json and the weights (model.safetensors, or the shards listed
 * in model.safetensors.index.json) from the folder dir. Refuses unknown architectures, tensors whose
 * shapes do not match the config, missing tensors, and malformed files, with a message naming the file.
 * When dir is a PEFT LoRA adapter folder (adapter_config.json), loads its base model
 * (base_model_name_or_path, see model_adapter_base in lora_apply.h) and applies the adapter to it in
 * memory at the base's weight dtype (model_apply_adapter): the result scores like the merged model. The base
 * may itself be an adapter folder (adapters stacked in order, up to 8). A path ending in ".gguf" that is a
 * file loads a llama.cpp GGUF (qwen2 / llama; gguf_load_weights in gguf.h: quantised tensors dequantised to
 * f32). */
model *model_load(const char *dir, char *err, size_t errcap);
/* model_load on the backend bk (backend/backend.h; model_load uses the CPU's, bk_cpu()). Weights are loaded
 * and adapters applied in host memory, then mapped to the backend (op.weight_map: a GPU backend uploads them);
 * the model's activations and KV caches live in the backend's memory. bk must outlive the model. */
struct bk_backend;
model *model_load_on(const char *dir, struct bk_backend *bk, char *err, size_t errcap);
/* The backend model_load (and everything that loads through it: adapters, model_load_weights, gguf) puts
 * models on: the CPU's until set. `--device cuda` sets the GPU's here once, before any model is loaded, so that
 * generate, score, test, benchmark and the sampling of raft/rl train all run there (training keeps its own,
 * train_model.c). NULL restores the CPU. The caller keeps bk alive until every model on it is freed. */
void model_set_default_backend(struct bk_backend *bk);
struct bk_backend *model_default_backend(void);
void model_free(model *m);
const model_config *model_get_config(const model *m);
/* Number of parameters (counting a tied head once). */
size_t model_num_params(const model *m);

/* Arithmetic of the matrix products (src/kernels/matmul.h):
 *   MODEL_PRECISION_EXACT (the default after model_load): bf16 weights widened to fp32, fp32 products and sums;
 *     matches an fp32 reference (tests, `score`).
 *   MODEL_PRECISION_FAST: activations rounded to bf16 before each product, bf16 x bf16 products summed in fp32
 *     (VDPBF16PS on CPUs with AVX512_BF16, about twice the arithmetic rate; elsewhere computed as exact). The
 *     accuracy of PyTorch's bf16 matmuls: log-probs move by ~1e-2. For sampling (`generate`, RAFT).
 * Everything else (norms, RoPE, attention, softmax, the KV cache) is fp32 in both. */
typedef enum { MODEL_PRECISION_EXACT = 0, MODEL_PRECISION_FAST = 1 } model_precision;
void model_set_precision(model *m, model_precision p);
model_precision model_get_precision(const model *m);

/* The KV cache: n_slots independent sequences, each up to max_len tokens. */
typedef struct kv_cache kv_cache;
/* fp32 keys and values (exact: what the tests against the fp32 reference use). NULL when out of memory.
 * Memory is reserved for n_slots x max_len tokens but only touched as slots fill. */
kv_cache *kv_create(const model *m, int n_slots, int max_len);
/* Same, with keys and values stored as bf16 when bf16 is true: half the memory (12 KiB instead of
 * 24 KiB per token for Qwen2.5-0.5B) for a relative rounding of 2^-9 on cached keys and values. */
kv_cache *kv_create_dtype(const model *m, int n_slots, int max_len, bool bf16);
/* Bytes one cached token takes (all layers, keys and values). */
size_t kv_bytes_per_token(const model *m, bool bf16);
void kv_free(kv_cache *kv);
int kv_len(const kv_cache *kv, int slot);            /* tokens cached in slot; -1 for a slot that does not exist */
int kv_max_len(const kv_cache *kv);
void kv_clear(kv_cache *kv, int slot);               /* empties a slot for reuse */
/* dst becomes a copy of src (fork a prefix); copies only the tokens src holds. Slots that do not
 * exist are ignored. */
void kv_copy(kv_cache *kv, int dst_slot, int src_slot);

/* Feeds a batch of n entries through the model in one pass: entry i appends ntok[i] tokens
 * (tokens[i][0..ntok[i]-1]) to slot slots[i], attending to what that slot already holds.
 * Slots in one call must be distinct. If logits is not NULL, it receives n rows of vocab_size
 * floats: the next-token logits after the last token of each entry. Returns 0, or -1 when a
 * slot would exceed max_len (err says which). */
int model_forward(model *m, kv_cache *kv, int n, const int *slots, const int *const *tokens, const int *ntok,
                  float *logits, char *err, size_t errcap);

/* Whether the model's backend draws tokens itself (op.sample: a GPU), so that model_forward_sample can be used
 * and only token ids cross the bus. */
bool model_samples_on_device(const model *m);
/* model_forward, then on the backend: the next token of each of the first n_draw entries is drawn into ids[i]
 * with seeds[i] (the same seed and logits give the same id; see bk_ops.sample) at temperature (<= 0: greedy),
 * top_p (1: off) and top_k (0: off), and its log-probability under that distribution into lps[i] (may be NULL).
 * With keep_last the logits after entry n-1 (a prompt's prefill) stay on the device for model_sample_kept.
 * Needs model_samples_on_device. Returns 0, or -1 with the reason in err. */
int model_forward_sample(model *m, kv_cache *kv, int n, const int *slots, const int *const *tokens, const int *ntok,
                         int n_draw, float temperature, float top_p, int top_k, const uint64_t *seeds, int *ids,
                         float *lps, bool keep_last, char *err, size_t errcap);
/* n draws (seeds[n]) from the logits the last model_forward_sample with keep_last kept: the first tokens of a
 * prompt's samples. */
int model_sample_kept(model *m, int n, float temperature, float top_p, int top_k, const uint64_t *seeds, int *ids,
                      float *lps, char *err, size_t errcap);

/* Full-sequence forward without a cache (the reference path for tests and for scoring):
 * logits receives ntok rows of vocab_size floats, one per position. */
int model_forward_full(model *m, const int *tokens, int ntok, float *logits, char *err, size_t errcap);

/* Scoring without materialising ntok x vocab logits: logprobs receives ntok-1 floats,
 * logprobs[i] = log p(tokens[i+1] | tokens[0..i]). Needs ntok >= 2. */
int model_logprobs(model *m, const int *tokens, int ntok, float *logprobs, char *err, size_t errcap);

/* Parses a config.json (and generation_config.json next to it, when present) into cfg without
 * loading weights. Same checks and messages as model_load. */
int model_read_config(const char *dir, model_config *cfg, char *err, size_t errcap);

/* Presets for `model init`: "tiny", "qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-3b", "qwen2.5-7b" (the shapes of
 * Qwen2.5's config.json files). Returns -1 for an unknown name. */
int model_preset(const char *name, model_config *cfg);
/* Writes a random-initialised model folder (config.json, generation_config.json, model.safetensors)
 * into dir, loadable here and by Hugging Face transformers. Weights ~ N(0, init_std) (HF uses 0.02),
 * biases 0 and norm weights 1 as HF initialises them; with perturb, biases ~ N(0, init_std) and norm
 * weights ~ 1 + N(0, 0.1) too, so tests exercise every parameter. dtype_bf16 picks BF16 or F32.
 * The same seed and config give the same bytes on every machine and thread count. */
int model_write_random(const char *dir, const model_config *cfg, bool dtype_bf16, uint64_t seed, double init_std,
                       bool perturb, char *err, size_t errcap);

#endif
