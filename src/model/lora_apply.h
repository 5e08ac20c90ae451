/* lora_apply: PEFT LoRA adapter folders (adapter_config.json + adapter_model.safetensors) on top of a
 * model loaded for inference (model.h).
 *
 * model_load() calls both functions, so every command that loads a model accepts an adapter folder.
 * Code that already holds a loaded base model (the RAFT cycles) calls model_apply_adapter directly.
 *
 * Errors: 0 / -1 with "FILE: what is wrong" in err; nothing is changed when an adapter is refused. */
#ifndef HF_LORA_APPLY_H
#define HF_LORA_APPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "model/model.h"

/* When dir holds adapter_config.json, writes the local folder of its base model into base and returns 1;
 * returns 0 for any other folder (nothing written), -1 with the reason in err on an unreadable
 * adapter_config.json or a base that cannot be found. base_model_name_or_path is taken, in this order, as
 * an absolute path, a path relative to the adapter folder, a path relative to the working directory, or a
 * Hugging Face Hub id resolved through hub_resolve (the local cache; downloaded unless HF_HUB_OFFLINE=1). */
int model_adapter_base(const char *dir, char *base, size_t cap, char *err, size_t errcap);

/* The folder whose tokenizer files (tokenizer.json, tokenizer_config.json) go with the model folder dir:
 * dir itself when it holds tokenizer.json, else, for an adapter folder, its base model's folder (adapters
 * published without tokenizer files; followed down a chain of stacked adapters), else dir. Writes it into out; -1 only when dir is an adapter whose
 * base cannot be found (err says why). */
int model_tokenizer_dir(const char *dir, char *out, size_t cap, char *err, size_t errcap);

/* Adds the adapter in adapter_dir to the loaded model m, in memory: W += s * B A for every adapted projection
 * (s = lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora), computed in fp32 and stored at W's own dtype
 * (a bf16 model stays bf16, rounded to nearest even, so sampling runs at the same speed; f32 stays f32). The
 * new matrices are owned by m (the memory-mapped originals are no longer used); other weights are untouched.
 * Can be called more than once (adapters add up). The adapter is checked whole before any weight changes:
 * refused with a message for a missing or malformed adapter_config.json (r, lora_alpha missing or of the wrong
 * type), options that change the arithmetic and are not supported (use_dora, rank_pattern, alpha_pattern,
 * modules_to_save, bias other than "none", fan_in_fan_out), target modules this model does not have, tensors
 * that name a module or layer the model does not have, and shapes that do not match r and the model. */
int model_apply_adapter(model *m, const char *adapter_dir, char *err, size_t errcap);
/* The same with the merged matrices stored as f32 whatever W's dtype (twice a bf16 base's memory for them):
 * what the RL sampler uses, so that its log-probs equal the trainer's (W + s B A unrounded) to fp32 rounding. */
int model_apply_adapter_f32(model *m, const char *adapter_dir, char *err, size_t errcap);

/* Loads the weights to sample from: base_dir alone (weights NULL), base_dir with the LoRA adapter folder
 * weights applied in memory at the base's dtype (model_apply_adapter), or weights itself when it is a full
 * model folder (no adapter_config.json: a full fine-tuning checkpoint). Returns the model (caller frees
 * with model_free) or NULL with the reason in err. */
model *model_load_weights(const char *base_dir, const char *weights, char *err, size_t errcap);
/* model_load_weights with f32_merge choosing model_apply_adapter_f32 for an adapter. */
model *model_load_weights_f32(const char *base_dir, const char *weights, bool f32_merge, char *err, size_t errcap);

#endif
