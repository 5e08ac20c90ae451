#!/usr/bin/python3
"""The decode benchmark of bench/decode.c done by plain PyTorch, for the ratio halo-forge / PyTorch.

A Qwen2 / Llama forward with a KV cache written directly in torch (no transformers: Debian's
python3-torch has none), reading the same model folder (config.json + model.safetensors), run in
bf16 and in fp32. Same work as bench_decode: one prompt of --prompt-tokens ids prefilled once, its
cache copied to B sequences, B sequences decoding --new-tokens tokens together with temperature 0.7
sampling; decode tokens/s counts the tokens made by decode steps over the time of those steps.

Usage: /usr/bin/python3 bench/decode_torch.py [MODEL_DIR] [--dtypes bf16,fp32] [--batches 1,8,32,128]
                                              [--new-tokens 32] [--prompt-tokens 64] [--threads N]
"""
import argparse
import json
import math
import os
import resource
import struct
import time

import numpy as np
import torch


def read_safetensors(path, dtype):
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
        raw = bytearray(data[base + b:base + e])
        shape = info["shape"]
        if info["dtype"] == "BF16":
            t = torch.frombuffer(raw, dtype=torch.bfloat16)
        elif info["dtype"] == "F16":
            t = torch.frombuffer(raw, dtype=torch.float16)
        elif info["dtype"] == "F32":
            t = torch.frombuffer(raw, dtype=torch.float32)
        else:
            raise SystemExit(f"{path}: {name}: unsupported dtype {info['dtype']}")
        out[name] = t.reshape(shape).to(dtype).contiguous()
    del data
    return out


class Model:
    def __init__(self, folder, dtype):
        with open(os.path.join(folder, "config.json")) as f:
            c = json.load(f)
        self.c = c
        self.dtype = dtype
        self.H = c["hidden_size"]
        self.L = c["num_hidden_layers"]
        self.nh = c["num_attention_heads"]
        self.nkv = c.get("num_key_value_heads", self.nh)
        self.hd = c.get("head_dim", self.H // self.nh)
        self.eps = c.get("rms_norm_eps", 1e-6)
        w = read_safetensors(os.path.join(folder, "model.safetensors"), dtype)
        self.w = w
        self.embed = w["model.embed_tokens.weight"]
        self.head = w.get("lm_head.weight", self.embed)
        theta = c.get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd))
        self.nparams = sum(t.numel() for t in w.values())

    def rms(self, x, weight):
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return weight * xf.to(self.dtype)

    def rope(self, x, pos):
        # x [B, h, T, hd], pos [T]
        f = torch.outer(pos.float(), self.inv_freq)
        emb = torch.cat([f, f], dim=-1)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        half = self.hd // 2
        rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + rot * sin

    def new_cache(self, B, max_len):
        return [(torch.zeros(B, self.nkv, max_len, self.hd, dtype=self.dtype),
                 torch.zeros(B, self.nkv, max_len, self.hd, dtype=self.dtype)) for _ in range(self.L)]

    def forward(self, ids, cache, start):
        """ids [B, T] appended at positions start..start+T-1; returns last-position logits [B, V]."""
        B, T = ids.shape
        x = self.embed[ids]
        pos = torch.arange(start, start + T)
        rep = self.nh // self.nkv
        for i in range(self.L):
            p = f"model.layers.{i}."
            w = self.w
            h = self.rms(x, w[p + "input_layernorm.weight"])
            q = torch.nn.functional.linear(h, w[p + "self_attn.q_proj.weight"], w.get(p + "self_attn.q_proj.bias"))
            k = torch.nn.functional.linear(h, w[p + "self_attn.k_proj.weight"], w.get(p + "self_attn.k_proj.bias"))
            v = torch.nn.functional.linear(h, w[p + "self_attn.v_proj.weight"], w.get(p + "self_attn.v_proj.bias"))
            q = self.rope(q.view(B, T, self.nh, self.hd).transpose(1, 2), pos)
            k = self.rope(k.view(B, T, self.nkv, self.hd).transpose(1, 2), pos)
            v = v.view(B, T, self.nkv, self.hd).transpose(1, 2)
            kc, vc = cache[i]
            kc[:, :, start:start + T] = k
            vc[:, :, start:start + T] = v
            K = kc[:, :, :start + T].repeat_interleave(rep, dim=1)
            V = vc[:, :, :start + T].repeat_interleave(rep, dim=1)
            s = torch.matmul(q, K.transpose(-1, -2)) / math.sqrt(self.hd)
            if T > 1:
                mask = torch.full((T, start + T), float("-inf")).triu(start + 1)
                s = s + mask.to(s.dtype)
            a = torch.softmax(s.float(), dim=-1).to(self.dtype)
            o = torch.matmul(a, V).transpose(1, 2).reshape(B, T, self.nh * self.hd)
            x = x + torch.nn.functional.linear(o, w[p + "self_attn.o_proj.weight"])
            h = self.rms(x, w[p + "post_attention_layernorm.weight"])
            g = torch.nn.functional.linear(h, w[p + "mlp.gate_proj.weight"])
            u = torch.nn.functional.linear(h, w[p + "mlp.up_proj.weight"])
            x = x + torch.nn.functional.linear(torch.nn.functional.silu(g) * u, w[p + "mlp.down_proj.weight"])
        x = self.rms(x[:, -1], self.w["model.norm.weight"])
        return torch.nn.functional.linear(x, self.head).float()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", default="/tmp/q05")
    ap.add_argument("--dtypes", default="bf16,fp32")
    ap.add_argument("--batches", default="1,8,32,128")
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name in args.dtypes.split(","):
        dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[name]
        m = Model(args.model, dtype)
        V = m.c["vocab_size"]
        prompt = torch.tensor([[(1000 + (i * 7919) % 20000) % V for i in range(args.prompt_tokens)]])
        print(f"\n{name}: {m.nparams / 1e6:.1f}M params")
        with torch.inference_mode():
            times = []
            for r in range(4):
                cache = m.new_cache(1, args.prompt_tokens + 1)
                t = time.perf_counter()
                m.forward(prompt, cache, 0)
                times.append(time.perf_counter() - t)
            pre = args.prompt_tokens / sorted(times[1:])[1]
            print(f"  prefill ({args.prompt_tokens}-token prompt): {pre:.1f} tokens/s")
            print(f"  {'sequences':>10} {'tokens/s':>12} {'ms/step':>10}")
            for B in [int(b) for b in args.batches.split(",")]:
                max_len = args.prompt_tokens + args.new_tokens
                one = m.new_cache(1, max_len)
                logits = m.forward(prompt, one, 0)
                cache = [(k.expand(B, -1, -1, -1).clone(), v.expand(B, -1, -1, -1).clone()) for k, v in one]
                probs = torch.softmax(logits.expand(B, -1) / 0.7, dim=-1)
                tok = torch.multinomial(probs, 1)
                t = time.perf_counter()
                for step in range(args.new_tokens - 1):
                    logits = m.forward(tok, cache, args.prompt_tokens + step)
                    tok = torch.multinomial(torch.softmax(logits / 0.7, dim=-1), 1)
                dt = time.perf_counter() - t
                tps = B * (args.new_tokens - 1) / dt
                print(f"  {B:>10} {tps:>12.1f} {dt / (args.new_tokens - 1) * 1e3:>10.1f}", flush=True)
        del m
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1048576.0
    print(f"\npeak RSS: {rss:.2f} GB")


if __name__ == "__main__":
    main()
