#!/usr/bin/python3
"""PyTorch reference of the Qwen2 / Llama forward pass, written for halo-forge's tests.

It follows Hugging Face transformers' modeling_qwen2.py / modeling_llama.py operation by operation
(RMSNorm, q/k/v projections with biases for Qwen2, rotate-half RoPE, GQA causal attention, SwiGLU,
tied or untied head) in fp32, and reads the same model folder halo-forge reads (config.json +
model.safetensors or a sharded index), with its own small safetensors reader: Debian's
python3-torch has no `safetensors` or `transformers` package.

Usage: qwen2_ref.py MODEL_DIR REQUEST.json OUT.json [MODEL_DIR REQUEST.json OUT.json ...]
  REQUEST.json: {"sequences": [[ids...], ...]}
  OUT.json:     {"logprobs": [ [[V floats] per position] per sequence ]}  (log-softmax of the logits)
Run with /usr/bin/python3 (the interpreter that has torch).
"""
import json
import os
import struct
import sys

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[base + b:base + e]
        shape = info["shape"]
        dt = info["dtype"]
        if dt == "F32":
            arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif dt == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dt == "BF16":
            u16 = np.frombuffer(raw, dtype="<u2").astype(np.uint32)
            arr = (u16 << 16).view(np.float32)
        else:
            raise ValueError(f"{path}: unsupported dtype {dt}")
        out[name] = torch.from_numpy(arr.reshape(shape).copy())
    return out


def load_weights(model_dir):
    idx = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            wm = json.load(f)["weight_map"]
        w = {}
        for shard in sorted(set(wm.values())):
            w.update(read_safetensors(os.path.join(model_dir, shard)))
        return w
    return read_safetensors(os.path.join(model_dir, "model.safetensors"))


def rms_norm(x, weight, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(var + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Reference:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = json.load(f)
        c = self.cfg
        self.arch = c["architectures"][0]
        assert self.arch in ("Qwen2ForCausalLM", "LlamaForCausalLM"), self.arch
        self.H = c["hidden_size"]
        self.nh = c["num_attention_heads"]
        self.nkv = c.get("num_key_value_heads", self.nh)
        self.hd = c.get("head_dim") or self.H // self.nh
        self.L = c["num_hidden_layers"]
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.theta = c.get("rope_theta", 10000.0)
        self.tied = c.get("tie_word_embeddings", False)
        self.w = load_weights(model_dir)

    def logits(self, ids):
        w, hd, nh, nkv = self.w, self.hd, self.nh, self.nkv
        T = len(ids)
        x = w["model.embed_tokens.weight"][torch.tensor(ids, dtype=torch.long)]
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
        pos = torch.arange(T, dtype=torch.float32)
        freqs = pos[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((T, T), float("-inf")).triu(1)
        for l in range(self.L):
            p = f"model.layers.{l}."
            h = rms_norm(x, w[p + "input_layernorm.weight"], self.eps)

            def proj(name):
                y = h @ w[p + f"self_attn.{name}.weight"].T
                b = w.get(p + f"self_attn.{name}.bias")
                if self.arch == "Qwen2ForCausalLM":
                    assert b is not None, "Qwen2 needs q/k/v biases"
                if b is not None:
                    y = y + b
                return y

            q = proj("q_proj").view(T, nh, hd).transpose(0, 1)
            k = proj("k_proj").view(T, nkv, hd).transpose(0, 1)
            v = proj("v_proj").view(T, nkv, hd).transpose(0, 1)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(nh // nkv, dim=0)
            v = v.repeat_interleave(nh // nkv, dim=0)
            att = (q @ k.transpose(1, 2)) * hd ** -0.5 + mask
            att = torch.softmax(att.float(), dim=-1)
            o = (att @ v).transpose(0, 1).reshape(T, nh * hd)
            x = x + o @ w[p + "self_attn.o_proj.weight"].T
            h = rms_norm(x, w[p + "post_attention_layernorm.weight"], self.eps)
            g = h @ w[p + "mlp.gate_proj.weight"].T
            u = h @ w[p + "mlp.up_proj.weight"].T
            x = x + (torch.nn.functional.silu(g) * u) @ w[p + "mlp.down_proj.weight"].T
        x = rms_norm(x, w["model.norm.weight"], self.eps)
        head = w["model.embed_tokens.weight"] if self.tied else w["lm_head.weight"]
        return x @ head.T


def main():
    args = sys.argv[1:]
    if not args or len(args) % 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    torch.set_num_threads(1)
    for model_dir, req_path, out_path in zip(args[0::3], args[1::3], args[2::3]):
        ref = Reference(model_dir)
        with open(req_path) as f:
            req = json.load(f)
        out = []
        with torch.no_grad():
            for ids in req["sequences"]:
                lp = torch.log_softmax(ref.logits(ids).double(), dim=-1)
                out.append([[round(v, 7) for v in row] for row in lp.tolist()])
        with open(out_path, "w") as f:
            json.dump({"logprobs": out}, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
