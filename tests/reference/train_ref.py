#!/usr/bin/python3
"""PyTorch reference of one training step of halo-forge's trainer, for its tests.

For a model folder (read as qwen2_ref.py reads it) and a packed batch it computes, in fp32:
  - the loss: token-level mean negative log-likelihood over the target tokens (a token is a target
    when its flag is 1; it is predicted from the previous token of the same sequence);
  - after one backward: the gradient of every LoRA tensor (adapters on the requested projections,
    y = x W^T + b + (alpha/r) (x A^T) B^T, A and B drawn here and written out so that the C side
    starts from the same values) and of every base tensor for full fine-tuning;
  - the losses of `steps` optimizer steps with torch.optim.AdamW (weight decay on matrices only),
    global-norm clipping (torch.nn.utils.clip_grad_norm_) and the learning rates listed in the request.

Usage: train_ref.py MODEL_DIR REQUEST.json OUT_DIR
  REQUEST.json: {"sequences": [[ids]], "targets": [[0|1 per token]], "lora": {"r", "alpha", "targets": [names]},
                 "adam": {"lrs": [...], "beta1", "beta2", "eps", "weight_decay", "max_grad_norm"}, "seed"}
  OUT_DIR gets adapter_init.safetensors, lora_grads.safetensors, full_grads.safetensors and
  expected.json {"loss", "lora_losses": [...], "full_losses": [...]}.
Run with /usr/bin/python3 (Debian's python3-torch).
"""
import json
import math
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qwen2_ref import load_weights, rms_norm, rotate_half  # noqa: E402

PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().float().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class Model:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            c = json.load(f)
        self.arch = c["architectures"][0]
        self.H = c["hidden_size"]
        self.nh = c["num_attention_heads"]
        self.nkv = c.get("num_key_value_heads", self.nh)
        self.hd = c.get("head_dim") or self.H // self.nh
        self.L = c["num_hidden_layers"]
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.theta = c.get("rope_theta", 10000.0)
        self.tied = c.get("tie_word_embeddings", False)
        self.w = {k: v.clone() for k, v in load_weights(model_dir).items()}
        self.lora = {}  # (layer, proj) -> (A, B)
        self.scale = 0.0

    def linear(self, l, part, proj, h):
        p = f"model.layers.{l}.{part}.{proj}."
        y = h @ self.w[p + "weight"].T
        b = self.w.get(p + "bias")
        if b is not None:
            y = y + b
        ab = self.lora.get((l, proj))
        if ab is not None:
            y = y + ((h @ ab[0].T) @ ab[1].T) * self.scale
        return y

    def seq_logits(self, ids):
        w, hd, nh, nkv = self.w, self.hd, self.nh, self.nkv
        T = len(ids)
        x = w["model.embed_tokens.weight"][torch.tensor(ids, dtype=torch.long)]
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
        freqs = torch.arange(T, dtype=torch.float32)[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((T, T), float("-inf")).triu(1)
        for l in range(self.L):
            p = f"model.layers.{l}."
            h = rms_norm(x, w[p + "input_layernorm.weight"], self.eps)
            q = self.linear(l, "self_attn", "q_proj", h).view(T, nh, hd).transpose(0, 1)
            k = self.linear(l, "self_attn", "k_proj", h).view(T, nkv, hd).transpose(0, 1)
            v = self.linear(l, "self_attn", "v_proj", h).view(T, nkv, hd).transpose(0, 1)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(nh // nkv, dim=0)
            v = v.repeat_interleave(nh // nkv, dim=0)
            att = torch.softmax((q @ k.transpose(1, 2)) * hd ** -0.5 + mask, dim=-1)
            o = (att @ v).transpose(0, 1).reshape(T, nh * hd)
            x = x + self.linear(l, "self_attn", "o_proj", o)
            h = rms_norm(x, w[p + "post_attention_layernorm.weight"], self.eps)
            g = self.linear(l, "mlp", "gate_proj", h)
            u = self.linear(l, "mlp", "up_proj", h)
            x = x + self.linear(l, "mlp", "down_proj", torch.nn.functional.silu(g) * u)
        x = rms_norm(x, w["model.norm.weight"], self.eps)
        head = w["model.embed_tokens.weight"] if self.tied else w["lm_head.weight"]
        return x @ head.T

    def loss(self, seqs, targets):
        total, n = 0.0, 0
        for ids, tg in zip(seqs, targets):
            lp = torch.log_softmax(self.seq_logits(ids), dim=-1)
            for t in range(1, len(ids)):
                if tg[t]:
                    total = total - lp[t - 1, ids[t]]
                    n += 1
        return total / n


def peft_name(l, proj, which):
    part = "self_attn" if proj in PROJ[:4] else "mlp"
    return f"base_model.model.model.layers.{l}.{part}.{proj}.lora_{which}.weight"


def adamw_losses(model, params, groups, req):
    ad = req["adam"]
    opt = torch.optim.AdamW(groups, lr=ad["lrs"][0], betas=(ad["beta1"], ad["beta2"]), eps=ad["eps"])
    losses = []
    for lr in ad["lrs"]:
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        loss = model.loss(req["sequences"], req["targets"])
        loss.backward()
        if ad["max_grad_norm"] > 0:
            torch.nn.utils.clip_grad_norm_(params, ad["max_grad_norm"])
        opt.step()
        losses.append(loss.item())
    return losses


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    model_dir, req_path, out_dir = sys.argv[1:]
    torch.set_num_threads(1)
    with open(req_path) as f:
        req = json.load(f)
    os.makedirs(out_dir, exist_ok=True)
    gen = torch.Generator().manual_seed(req["seed"])
    seqs, tgs = req["sequences"], req["targets"]
    wd = req["adam"]["weight_decay"]

    # LoRA: A as PEFT draws it (Kaiming-uniform, bound 1/sqrt(in)); B non-zero so that A gets a gradient.
    m = Model(model_dir)
    lr_cfg = req["lora"]
    m.scale = lr_cfg["alpha"] / lr_cfg["r"]
    init = {}
    for l in range(m.L):
        for proj in lr_cfg["targets"]:
            part = "self_attn" if proj in PROJ[:4] else "mlp"
            W = m.w[f"model.layers.{l}.{part}.{proj}.weight"]
            out_f, in_f = W.shape
            A = (torch.rand(lr_cfg["r"], in_f, generator=gen) * 2 - 1) / math.sqrt(in_f)
            B = torch.randn(out_f, lr_cfg["r"], generator=gen) * 0.1
            init[peft_name(l, proj, "A")] = A.clone()
            init[peft_name(l, proj, "B")] = B.clone()
            m.lora[(l, proj)] = (A.requires_grad_(), B.requires_grad_())
    write_safetensors(os.path.join(out_dir, "adapter_init.safetensors"), init)
    loss = m.loss(seqs, tgs)
    loss.backward()
    grads = {}
    for (l, proj), (A, B) in m.lora.items():
        grads[peft_name(l, proj, "A")] = A.grad
        grads[peft_name(l, proj, "B")] = B.grad
    write_safetensors(os.path.join(out_dir, "lora_grads.safetensors"), grads)
    lora_params = [t for ab in m.lora.values() for t in ab]
    for t in lora_params:
        t.grad = None
    lora_losses = adamw_losses(m, lora_params, [{"params": lora_params, "weight_decay": wd}], req)

    # Full fine-tuning: every base tensor.
    m = Model(model_dir)
    for t in m.w.values():
        t.requires_grad_()
    full_loss = m.loss(seqs, tgs)
    full_loss.backward()
    write_safetensors(os.path.join(out_dir, "full_grads.safetensors"), {k: v.grad for k, v in m.w.items()})
    for t in m.w.values():
        t.grad = None
    names = sorted(m.w)
    params = [m.w[k] for k in names]
    decay = [m.w[k] for k in names if m.w[k].dim() == 2]
    no_decay = [m.w[k] for k in names if m.w[k].dim() != 2]
    full_losses = adamw_losses(m, params, [{"params": decay, "weight_decay": wd},
                                           {"params": no_decay, "weight_decay": 0.0}], req)
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump({"loss": loss.item(), "full_loss": full_loss.item(), "lora_losses": lora_losses,
                   "full_losses": full_losses}, f, indent=1)


if __name__ == "__main__":
    main()
