#!/usr/bin/python3
"""Checks that folders halo-forge writes carry every field Hugging Face transformers (4.45, AutoConfig /
AutoModelForCausalLM / AutoTokenizer) and PEFT (0.13, PeftModel.from_pretrained with a LoraConfig) read, with the
types and values they accept. Debian has neither package (apt-cache policy python3-transformers python3-peft: no
candidate), so this stands in for loading the folders there; every rule names the code that reads the field.

Usage: hf_format.py model DIR | adapter DIR BASE_DIR     (exit 1 with one line per problem)
"""
import json
import os
import struct
import sys

problems = []


def bad(msg):
    problems.append(msg)


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception as e:  # noqa: BLE001 - any failure is a finding
        bad(f"{path}: {e}")
        return {}


def safetensors_header(path):
    """The header as safetensors' own loader checks it: 8-byte length, JSON, offsets contiguous from 0 to the
    end of the file, dtypes and shapes consistent, __metadata__ string values (transformers refuses a file whose
    metadata "format" is not pt/tf/flax/mlx: modeling_utils.load_state_dict)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > size - 8:
            bad(f"{path}: header length {n} past the end")
            return {}
        h = json.loads(f.read(n))
    meta = h.pop("__metadata__", None)
    if not isinstance(meta, dict) or meta.get("format") not in ("pt", "tf", "flax", "mlx"):
        bad(f"{path}: __metadata__.format must be 'pt' (transformers' load_state_dict), got {meta}")
    elif any(not isinstance(v, str) for v in meta.values()):
        bad(f"{path}: __metadata__ values must be strings")
    sizes = {"F32": 4, "BF16": 2, "F16": 2}
    spans = []
    for name, t in h.items():
        if t.get("dtype") not in sizes:
            bad(f"{path}: {name}: dtype {t.get('dtype')}")
            continue
        numel = 1
        for d in t["shape"]:
            numel *= d
        b, e = t["data_offsets"]
        if e - b != numel * sizes[t["dtype"]]:
            bad(f"{path}: {name}: {e - b} bytes for shape {t['shape']} {t['dtype']}")
        spans.append((b, e, name))
    spans.sort()
    pos = 0
    for b, e, name in spans:
        if b != pos:
            bad(f"{path}: {name} starts at {b}, expected {pos} (safetensors refuses gaps and overlaps)")
        pos = e
    if 8 + n + pos != size:
        bad(f"{path}: data ends at {8 + n + pos}, the file at {size}")
    return h


def check_model(d):
    c = load_json(os.path.join(d, "config.json"))
    # AutoConfig: model_type picks the class (CONFIG_MAPPING); AutoModelForCausalLM: architectures[0].
    mt = c.get("model_type")
    if mt not in ("qwen2", "llama"):
        bad(f"{d}/config.json: model_type {mt!r}")
    arch = {"qwen2": "Qwen2ForCausalLM", "llama": "LlamaForCausalLM"}.get(mt)
    if c.get("architectures") != [arch]:
        bad(f"{d}/config.json: architectures {c.get('architectures')} (expected [{arch!r}])")
    ints = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "max_position_embeddings"]
    for k in ints:
        if not isinstance(c.get(k), int) or isinstance(c.get(k), bool) or c[k] < 1:
            bad(f"{d}/config.json: {k} must be a positive integer, got {c.get(k)!r}")
    for k in ("rms_norm_eps", "rope_theta"):
        if not isinstance(c.get(k), (int, float)) or c[k] <= 0:
            bad(f"{d}/config.json: {k} must be a positive number")
    if c.get("hidden_act") != "silu":
        bad(f"{d}/config.json: hidden_act {c.get('hidden_act')!r}")
    if not isinstance(c.get("tie_word_embeddings"), bool):
        bad(f"{d}/config.json: tie_word_embeddings must be a bool")
    if c.get("torch_dtype") not in ("float32", "bfloat16", "float16"):
        bad(f"{d}/config.json: torch_dtype {c.get('torch_dtype')!r}")
    if c.get("rope_scaling") is not None:
        bad(f"{d}/config.json: rope_scaling must be null for plain RoPE")
    eos = c.get("eos_token_id")
    if not (isinstance(eos, int) or (isinstance(eos, list) and all(isinstance(x, int) for x in eos))):
        bad(f"{d}/config.json: eos_token_id {eos!r}")
    g = os.path.join(d, "generation_config.json")
    if os.path.exists(g):  # GenerationConfig.from_pretrained
        gc = load_json(g)
        ge = gc.get("eos_token_id")
        if ge is not None and not (isinstance(ge, int) or (isinstance(ge, list) and all(isinstance(x, int) for x in ge))):
            bad(f"{g}: eos_token_id {ge!r}")
    # The weights: single file or index (modeling_utils); names and shapes of Qwen2/LlamaForCausalLM.
    idx = os.path.join(d, "model.safetensors.index.json")
    tensors = {}
    if os.path.exists(idx):
        wm = load_json(idx).get("weight_map", {})
        for f in sorted(set(wm.values())):
            h = safetensors_header(os.path.join(d, f))
            tensors.update(h)
            for name in h:
                if wm.get(name) != f:
                    bad(f"{idx}: {name} is in {f} but the weight_map says {wm.get(name)}")
    else:
        tensors = safetensors_header(os.path.join(d, "model.safetensors"))
    if problems:
        return
    H, I, L = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    hd = c.get("head_dim") or H // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    want = {"model.embed_tokens.weight": [c["vocab_size"], H], "model.norm.weight": [H]}
    if not c["tie_word_embeddings"]:
        want["lm_head.weight"] = [c["vocab_size"], H]
    for l in range(L):
        p = f"model.layers.{l}."
        want.update({p + "input_layernorm.weight": [H], p + "post_attention_layernorm.weight": [H],
                     p + "self_attn.q_proj.weight": [q, H], p + "self_attn.k_proj.weight": [kv, H],
                     p + "self_attn.v_proj.weight": [kv, H], p + "self_attn.o_proj.weight": [H, q],
                     p + "mlp.gate_proj.weight": [I, H], p + "mlp.up_proj.weight": [I, H],
                     p + "mlp.down_proj.weight": [H, I]})
        if mt == "qwen2":
            want.update({p + "self_attn.q_proj.bias": [q], p + "self_attn.k_proj.bias": [kv],
                         p + "self_attn.v_proj.bias": [kv]})
    for name, shape in want.items():
        if name not in tensors:
            bad(f"{d}: missing tensor {name}")
        elif tensors[name]["shape"] != shape:
            bad(f"{d}: {name} has shape {tensors[name]['shape']}, transformers builds {shape}")
    for name in tensors:
        if name not in want and name != "lm_head.weight":
            bad(f"{d}: unexpected tensor {name} (transformers would warn and drop it)")
    dt = {"float32": "F32", "bfloat16": "BF16", "float16": "F16"}[c["torch_dtype"]]
    if any(t["dtype"] != dt for t in tensors.values()):
        bad(f"{d}: tensors not all {dt} as torch_dtype says")
    # AutoTokenizer: tokenizer.json (PreTrainedTokenizerFast) and tokenizer_config.json.
    tj = load_json(os.path.join(d, "tokenizer.json"))
    if tj.get("model", {}).get("type") != "BPE":
        bad(f"{d}/tokenizer.json: model.type must be BPE")
    tc = load_json(os.path.join(d, "tokenizer_config.json"))
    if not isinstance(tc.get("tokenizer_class"), str):
        bad(f"{d}/tokenizer_config.json: tokenizer_class missing (AutoTokenizer falls back on model_type only)")
    if "chat_template" in tc and not isinstance(tc["chat_template"], (str, list)):
        bad(f"{d}/tokenizer_config.json: chat_template must be a string")
    added = {int(k): v for k, v in tc.get("added_tokens_decoder", {}).items()}
    for t in tj.get("added_tokens", []):
        if t["id"] in added and added[t["id"]]["content"] != t["content"]:
            bad(f"{d}: added token {t['id']} differs between tokenizer.json and tokenizer_config.json")
    for k in ("eos_token", "pad_token"):
        v = tc.get(k)
        name = v.get("content") if isinstance(v, dict) else v
        if name is not None and name not in [t["content"] for t in tj.get("added_tokens", [])] and \
                name not in tj.get("model", {}).get("vocab", {}):
            bad(f"{d}/tokenizer_config.json: {k} {name!r} is not a token")


# LoraConfig's fields in PEFT 0.13 (PeftConfig + LoraConfig dataclasses): from_pretrained passes the JSON as
# keyword arguments, so any other key is refused (older PEFT) or dropped with a warning (newer).
LORA_FIELDS = {"task_type", "peft_type", "auto_mapping", "base_model_name_or_path", "revision", "inference_mode", "r",
               "target_modules", "exclude_modules", "lora_alpha", "lora_dropout", "fan_in_fan_out", "bias",
               "use_rslora", "modules_to_save", "init_lora_weights", "layers_to_transform", "layers_pattern",
               "rank_pattern", "alpha_pattern", "megatron_config", "megatron_core", "loftq_config", "eva_config",
               "use_dora", "layer_replication", "runtime_config", "lora_bias"}
PROJ = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
        "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


def check_adapter(d, base):
    a = load_json(os.path.join(d, "adapter_config.json"))
    for k in a:
        if k not in LORA_FIELDS:
            bad(f"{d}/adapter_config.json: {k} is not a LoraConfig field")
    if a.get("peft_type") != "LORA":
        bad(f"{d}/adapter_config.json: peft_type {a.get('peft_type')!r}")
    if a.get("task_type") != "CAUSAL_LM":  # PeftModel.from_pretrained picks PeftModelForCausalLM from it
        bad(f"{d}/adapter_config.json: task_type {a.get('task_type')!r}")
    r = a.get("r")
    if not isinstance(r, int) or isinstance(r, bool) or r < 1:
        bad(f"{d}/adapter_config.json: r must be a positive integer")
    if not isinstance(a.get("lora_alpha"), (int, float)):
        bad(f"{d}/adapter_config.json: lora_alpha must be a number")
    tm = a.get("target_modules")
    if isinstance(tm, str) or not isinstance(tm, list) or not tm or any(m not in PROJ for m in tm):
        bad(f"{d}/adapter_config.json: target_modules {tm!r} (a list of projection names)")
        tm = []
    if a.get("bias") != "none" or a.get("fan_in_fan_out") is not False or a.get("use_dora"):
        bad(f"{d}/adapter_config.json: bias none, fan_in_fan_out false and no DoRA expected")
    if not isinstance(a.get("base_model_name_or_path"), str):
        bad(f"{d}/adapter_config.json: base_model_name_or_path must be a string")
    if a.get("modules_to_save") not in (None, []):
        bad(f"{d}/adapter_config.json: modules_to_save must be null")
    # adapter_model.safetensors: PEFT's set_peft_model_state_dict inserts the adapter name after "lora_A" /
    # "lora_B", so keys are base_model.model.<module>.lora_A.weight, A [r, in], B [out, in... r].
    h = safetensors_header(os.path.join(d, "adapter_model.safetensors"))
    c = load_json(os.path.join(base, "config.json"))
    if problems:
        return
    H, I = c["hidden_size"], c["intermediate_size"]
    hd = c.get("head_dim") or H // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    dims = {"q_proj": (H, q), "k_proj": (H, kv), "v_proj": (H, kv), "o_proj": (q, H), "gate_proj": (H, I),
            "up_proj": (H, I), "down_proj": (I, H)}
    want = {}
    for l in range(c["num_hidden_layers"]):
        for m in tm:
            p = f"base_model.model.model.layers.{l}.{PROJ[m]}.{m}."
            want[p + "lora_A.weight"] = [r, dims[m][0]]
            want[p + "lora_B.weight"] = [dims[m][1], r]
    for name, shape in want.items():
        if name not in h:
            bad(f"{d}: missing {name}")
        elif h[name]["shape"] != shape:
            bad(f"{d}: {name} has shape {h[name]['shape']}, PEFT builds {shape}")
    for name in h:
        if name not in want:
            bad(f"{d}: unexpected tensor {name} (PEFT would report it as an unexpected key)")


if __name__ == "__main__":
    if sys.argv[1] == "model":
        check_model(sys.argv[2])
    else:
        check_adapter(sys.argv[2], sys.argv[3])
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)
