#!/usr/bin/python3
"""The step bench/train.c times, in PyTorch (eager, Debian's torch 1.13): LoRA r=16 (alpha 32, dropout 0.05)
on all seven projections or full fine-tuning of a model folder, batches of B sequences of T random tokens,
loss over every token and the full vocabulary, global-norm clipping and one torch.optim.AdamW step.

Usage: bench/train_torch.py [--model DIR] [--mode lora|full] [--batch 8] [--seq 512] [--steps 2]
                            [--dtype fp32|bf16] [--threads N]
Default model: /tmp/hf_bench_qwen05 (written by build/bench_train). Prints tokens/s and peak RSS.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from qwen2_ref import load_weights  # noqa: E402

PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class LoraLinear(torch.nn.Module):
    def __init__(self, w, b, r, alpha, dropout, lora):
        super().__init__()
        self.w = torch.nn.Parameter(w, requires_grad=not lora)
        self.b = None if b is None else torch.nn.Parameter(b, requires_grad=not lora)
        self.lora = lora
        if lora:
            self.A = torch.nn.Parameter(((torch.rand(r, w.shape[1]) * 2 - 1) / math.sqrt(w.shape[1])).to(w.dtype))
            self.B = torch.nn.Parameter(torch.zeros(w.shape[0], r, dtype=w.dtype))
            self.scale = alpha / r
            self.drop = torch.nn.Dropout(dropout)

    def forward(self, x):
        y = torch.nn.functional.linear(x, self.w, self.b)
        if self.lora:
            y = y + torch.nn.functional.linear(torch.nn.functional.linear(self.drop(x), self.A), self.B) * self.scale
        return y


class Model(torch.nn.Module):
    def __init__(self, d, lora, dtype):
        super().__init__()
        c = json.load(open(os.path.join(d, "config.json")))
        self.H, self.nh, self.nkv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        self.hd, self.L, self.eps = self.H // self.nh, c["num_hidden_layers"], c["rms_norm_eps"]
        self.theta = c["rope_theta"]
        w = {k: v.to(dtype) for k, v in load_weights(d).items()}
        self.embed = torch.nn.Parameter(w["model.embed_tokens.weight"], requires_grad=not lora)
        self.norm = torch.nn.Parameter(w["model.norm.weight"], requires_grad=not lora)
        self.head = None if c.get("tie_word_embeddings") else torch.nn.Parameter(w["lm_head.weight"], requires_grad=not lora)
        self.layers = torch.nn.ModuleList()
        for l in range(self.L):
            m = torch.nn.Module()
            p = f"model.layers.{l}."
            m.ln1 = torch.nn.Parameter(w[p + "input_layernorm.weight"], requires_grad=not lora)
            m.ln2 = torch.nn.Parameter(w[p + "post_attention_layernorm.weight"], requires_grad=not lora)
            for proj in PROJ:
                part = "self_attn" if proj in PROJ[:4] else "mlp"
                setattr(m, proj, LoraLinear(w[f"{p}{part}.{proj}.weight"], w.get(f"{p}{part}.{proj}.bias"), 16, 32, 0.05,
                                            lora))
            self.layers.append(m)

    def rms(self, x, w):
        xf = x.float()
        return w * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)

    def forward(self, ids):
        B, T = ids.shape
        hd, nh, nkv = self.hd, self.nh, self.nkv
        x = self.embed[ids]
        inv = 1.0 / (self.theta ** (torch.arange(0, hd, 2).float() / hd))
        f = torch.arange(T).float()[:, None] * inv[None]
        emb = torch.cat((f, f), -1)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        mask = torch.full((T, T), float("-inf")).triu(1).to(x.dtype)

        def rot(t):
            return torch.cat((-t[..., hd // 2:], t[..., :hd // 2]), -1)
        for m in self.layers:
            h = self.rms(x, m.ln1)
            q = m.q_proj(h).view(B, T, nh, hd).transpose(1, 2)
            k = m.k_proj(h).view(B, T, nkv, hd).transpose(1, 2)
            v = m.v_proj(h).view(B, T, nkv, hd).transpose(1, 2)
            q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
            k, v = k.repeat_interleave(nh // nkv, 1), v.repeat_interleave(nh // nkv, 1)
            a = torch.softmax((q @ k.transpose(-1, -2)) * hd ** -0.5 + mask, -1, dtype=torch.float32).to(q.dtype)
            x = x + m.o_proj((a @ v).transpose(1, 2).reshape(B, T, nh * hd))
            h = self.rms(x, m.ln2)
            x = x + m.down_proj(torch.nn.functional.silu(m.gate_proj(h)) * m.up_proj(h))
        x = self.rms(x, self.norm)
        return x @ (self.embed if self.head is None else self.head).T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="/tmp/hf_bench_qwen05")
    ap.add_argument("--mode", default="lora", choices=["lora", "full"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    model = Model(a.model, a.mode == "lora", dtype)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    vocab = json.load(open(os.path.join(a.model, "config.json")))["vocab_size"]
    ids = torch.randint(0, min(151000, vocab), (a.batch, a.seq))
    best = float("inf")
    for s in range(a.steps + 1):
        t = time.time()
        opt.zero_grad()
        logits = model(ids)
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
                                                 ids[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        dt = time.time() - t
        print(f"step {s}: {dt:.2f} s, loss {loss.item():.4f}", file=sys.stderr)
        if s > 0:
            best = min(best, dt)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1048576
    print(f"train_torch: {a.mode}, {a.dtype}, {a.threads} threads, batch {a.batch} x {a.seq}: best step {best:.2f} s "
          f"-> {a.batch * a.seq / best:.1f} tokens/s, peak RSS {rss:.2f} GB")


if __name__ == "__main__":
    main()
