#!/usr/bin/python3
"""PyTorch reference of the policy-gradient objectives of src/rl/pg.h, written from the papers independently of
the C code: GRPO (Shao et al. 2024), DAPO (Yu et al. 2025: clip-higher, token-level mean), Dr. GRPO (Liu et al.
2025: no std, constant normaliser), RLOO (Ahmadian et al. 2024: leave-one-out baseline), PPO's clipped
surrogate and the k3 KL estimator. Makes tests/fixtures/rl/objective.json: random logits of a few sampled
sequences, their old and reference log-probs, rewards, and for each algorithm the advantages, the loss and its
gradient with respect to the logits (autograd, float64), which tests/test_rl.c compares the C code to.
Usage: /usr/bin/python3 tests/reference/rl_ref.py OUT.json"""
import json
import sys

import torch

torch.manual_seed(15)
V, T, G, NG, LMAX, BETA = 11, 0.7, 4, 3, 6, 0.05
lens = [int(x) for x in torch.randint(1, LMAX + 1, (G * NG,))]
N = sum(lens)
logits = (torch.randn(N, V, dtype=torch.float64) * 2.0).float().double()
targets = torch.randint(0, V, (N,))
with torch.no_grad():
    lp_now = torch.log_softmax(logits / T, -1).gather(1, targets[:, None])[:, 0]
lp_old = (lp_now + 0.3 * torch.randn(N, dtype=torch.float64)).float().double()
lp_ref = (lp_now + 0.5 * torch.randn(N, dtype=torch.float64)).float().double()
rewards = [1.0, 0.5, 0.0, 0.7,   0.5, 0.5, 0.5, 0.5,   1.0, 0.0, 0.0, 1.0]
seq_of = torch.tensor([i for i, n in enumerate(lens) for _ in range(n)])


def advantages(algo):
    r = torch.tensor(rewards, dtype=torch.float64).view(NG, G)
    if algo == "rloo":
        a = r - (r.sum(1, keepdim=True) - r) / (G - 1)
    elif algo == "dr-grpo":
        a = r - r.mean(1, keepdim=True)
    else:
        a = (r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4)
    return a.reshape(-1)


def objective(algo):
    clip_lo, clip_hi = 0.2, (0.28 if algo == "dapo" else 0.2)
    z = logits.clone().requires_grad_(True)
    lp = torch.log_softmax(z / T, -1).gather(1, targets[:, None])[:, 0]
    adv = advantages(algo)[seq_of]
    ratio = torch.exp(lp - lp_old)
    surr = -torch.min(ratio * adv, torch.clamp(ratio, 1 - clip_lo, 1 + clip_hi) * adv)
    x = lp_ref - lp
    kl = torch.exp(x) - x - 1
    term = surr + BETA * kl
    if algo == "dapo":
        loss = term.sum() / N
    elif algo == "dr-grpo":
        loss = term.sum() / (len(lens) * LMAX)
    else:
        per_seq = torch.zeros(len(lens), dtype=torch.float64).index_add(0, seq_of, term)
        loss = (per_seq / torch.tensor(lens, dtype=torch.float64)).mean()
    loss.backward()
    clipped = (ratio * adv > torch.clamp(ratio, 1 - clip_lo, 1 + clip_hi) * adv).double().mean()
    return {"advantages": advantages(algo).tolist(), "loss": loss.item(), "grad": z.grad.reshape(-1).tolist(),
            "clip_fraction": clipped.item(), "kl_mean": kl.mean().item(), "clip_low": clip_lo, "clip_high": clip_hi}


out = {"vocab": V, "temperature": T, "group_size": G, "n_groups": NG, "max_new_tokens": LMAX, "kl_coef": BETA,
       "lengths": lens, "logits": logits.reshape(-1).tolist(), "targets": targets.tolist(),
       "lp_old": lp_old.tolist(), "lp_ref": lp_ref.tolist(), "rewards": rewards,
       "lp_at_temperature": lp_now.tolist(),
       "algorithms": {a: objective(a) for a in ["grpo", "dapo", "dr-grpo", "rloo"]}}
json.dump(out, open(sys.argv[1], "w"))
