# rl train: DAPO's dynamic sampling with refill. Groups whose rewards are all equal are dropped; while fewer
# groups than the cycle's prompts carry a signal, refill rounds sample further prompts (journalled like the
# cycle's own samples), and the trained batch is cut at the wanted number of signal-carrying groups. Resume
# after a kill in the middle of a refill round samples only what is missing and ends with the same adapter.
#
# The custom verifier sees only the completion, never the prompt, so which groups come out all-equal is left
# to the sampler: 6 prompts x 2 samples of a tiny random model, rewarded for containing an "e" (most do),
# gives several all-equal groups from the fixed seed. The checks below do not depend on which: they recompute
# from the files what the batch must be and compare.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

"$HF" -q model init --preset tiny --seed 3 --init-std 0.3 --output m >/dev/null
for i in 1 2 3 4 5 6; do echo "{\"id\": \"p$i\", \"prompt\": \"Write program number $i in C\"}"; done > p.jsonl
common=(--model m --prompts p.jsonl --samples-per-prompt 2 --max-new-tokens 10 --verifier custom
        --verify-command "grep -q e {file}" --learning-rate 2e-2 --lora-rank 4 --workers 2 --temperature 0.8
        --algorithm dapo --overlong-filter off --old-logprobs trainer --cycles 2)

cat > check.py <<'PY'
import json, math, os, sys
out, G, wanted, max_rounds, cycles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
expect_refill = sys.argv[6] == "refill"
stats = {s["cycle"]: s for s in json.load(open(f"{out}/raft_statistics.json"))}
assert sorted(stats) == list(range(1, cycles + 1)), stats
shortfall_seen = False
def groups(recs, rnd):
    g = {}
    for r in recs:
        assert r.get("refill_round", 0) == rnd, (rnd, r)
        g.setdefault(r["prompt_id"], []).append(r)
    for pid, rs in g.items():
        assert sorted(r["sample_idx"] for r in rs) == list(range(G)), (pid, rnd)
    # (round, prompt index in the prompts file): the batch's order
    return [(rnd, int(pid[1:]), len({r["reward"] for r in rs}) > 1) for pid, rs in g.items()]
for c in range(1, cycles + 1):
    rl = stats[c]["rl"]
    base = [json.loads(l) for l in open(f"{out}/cycle_{c}_verified.jsonl")]
    gs = groups(base, 0)
    assert len(gs) == wanted
    rounds, sampled_refill = 0, 0
    while os.path.exists(f"{out}/cycle_{c}_refill_{rounds + 1}_verified.jsonl"):
        sig = sum(s for _, _, s in gs)
        assert sig < wanted, f"cycle {c}: refill round {rounds + 1} although {sig} groups had a signal"
        # a round samples min(wanted, shortfall x groups so far / signal groups so far) distinct prompts
        k = min(wanted, math.ceil((wanted - sig) * len(gs) / sig)) if sig else wanted
        rounds += 1
        recs = [json.loads(l) for l in open(f"{out}/cycle_{c}_refill_{rounds}_verified.jsonl")]
        rg = groups(recs, rounds)
        assert len(rg) == k, (c, rounds, len(rg), k)
        # the round's journal holds the same samples
        assert len(open(f"{out}/cycle_{c}_refill_{rounds}_samples.jsonl").readlines()) == k * G
        gs += rg
        sampled_refill += k
    sig = sum(s for _, _, s in gs)
    base_sig = sum(s for r, _, s in gs if r == 0)
    # refill stops once the batch can be full, or at the round limit
    assert sig >= wanted or rounds == max_rounds, (c, sig, rounds)
    if base_sig < wanted and max_rounds > 0:
        assert rounds >= 1, f"cycle {c}: short of signal and no refill"
        shortfall_seen = True
    # the batch: every group in (round, prompt) order up to the wanted-th signal one
    batch, n = [], 0
    for g in sorted(gs):
        if n == wanted:
            break
        batch.append(g)
        n += g[2]
    assert rl["groups_wanted"] == wanted, rl
    assert rl["groups_used"] == min(wanted, sig), (c, rl, sig)
    assert rl["groups"] == len(batch), (c, rl, len(batch))
    assert rl["groups_dropped"] == sum(not s for _, _, s in batch), rl
    assert rl["groups_refilled"] == sum(s for r, _, s in batch if r > 0), rl
    assert rl["groups_sampled"] == len(gs) and rl["groups_surplus"] == len(gs) - len(batch), rl
    assert rl["refill_rounds"] == rounds and rl["refill_groups_sampled"] == sampled_refill, rl
    assert rl["samples_used"] == G * rl["groups_used"], rl
    # every sample of every round counts in the cycle's statistics
    assert stats[c]["total_samples"] == G * len(gs), stats[c]
    steps = [json.loads(l) for l in open(f"{out}/cycle_{c}/rl_metrics.jsonl")]
    assert steps
    for st in steps:
        assert (st["groups"], st["groups_used"], st["groups_dropped"], st["groups_refilled"]) == \
            (rl["groups"], rl["groups_used"], rl["groups_dropped"], rl["groups_refilled"]), st
assert shortfall_seen == expect_refill, "expected a cycle short of signal groups" if expect_refill else "refill ran"
print("ok")
PY

expect_rc 0 "dapo with refill, 2 cycles" -- "$HF" rl train "${common[@]}" --max-refill-rounds 4 --output ref
expect_grep "refill round 1: [0-9]+ more prompt" "$T/err" "logs the refill round"
expect_grep "dynamic sampling: [0-9]+ of [0-9]+ groups in the batch carry a learning signal \(6 wanted\); [0-9]+ dropped" \
    "$T/err" "logs the groups dropped and refilled"
expect_rc 0 "refill: the batch holds the wanted signal groups, the extra prompts were sampled" -- \
    $PY check.py ref 2 6 4 2 refill
cat "$T/out" "$T/err" | tail -n 3

# --max-refill-rounds 0: drop only (the former behaviour)
expect_rc 0 "dapo without refill" -- "$HF" rl train "${common[@]}" --cycles 1 --max-refill-rounds 0 --output norefill
expect_rc 0 "no refill files" -- test ! -e norefill/cycle_1_refill_1_samples.jsonl
expect_rc 0 "drop only: the batch is the base round's groups" -- $PY check.py norefill 2 6 0 1 none
# grpo does not drop (nor refill) unless asked
expect_rc 0 "grpo" -- "$HF" rl train "${common[@]}" --cycles 1 --algorithm grpo --output grpo
expect_rc 0 "grpo: no refill" -- test ! -e grpo/cycle_1_refill_1_samples.jsonl
expect_grep '"groups_dropped":0' grpo/cycle_1/rl_metrics.jsonl "grpo drops nothing"
expect_rc 0 "grpo --dynamic-sampling on refills too" -- "$HF" rl train "${common[@]}" --cycles 1 --algorithm grpo \
    --dynamic-sampling on --max-refill-rounds 4 --output grpo_dyn
expect_rc 0 "grpo with dynamic sampling: checks" -- $PY check.py grpo_dyn 2 6 4 1 refill

# Resume. (a) killed in the middle of cycle 2's first refill round: its journal ends with complete lines and a
# cut one; the rerun samples only the missing ones and trains the same adapter, bit for bit.
n2=$(wc -l < ref/cycle_2_refill_1_samples.jsonl)
cp -r ref kill_a
rm -rf kill_a/cycle_2_final kill_a/cycle_2 kill_a/cycle_2_refill_1_verified.jsonl kill_a/cycle_2_refill_[2-9]_*
head -n 1 ref/cycle_2_refill_1_samples.jsonl > kill_a/cycle_2_refill_1_samples.jsonl
printf '{"prompt_id": "p3", "completion": "ab", "tok' >> kill_a/cycle_2_refill_1_samples.jsonl
expect_rc 0 "resume after a kill mid-refill" -- "$HF" rl train "${common[@]}" --max-refill-rounds 4 --output kill_a
expect_grep "Cycle 2/2: 6 prompts, stage train" "$T/err" "the base round is not sampled again"
expect_grep "Cycle 2 refill 1: generating $((n2 - 1)) samples" "$T/err" "only the missing refill samples are generated"
expect_rc 0 "mid-refill resume: the same final adapter" -- cmp kill_a/cycle_2_final/adapter_model.safetensors \
    ref/cycle_2_final/adapter_model.safetensors
expect_rc 0 "mid-refill resume: the same batch" -- $PY check.py kill_a 2 6 4 2 refill
# (b) a real SIGKILL as soon as a refill journal appears
"$HF" rl train "${common[@]}" --max-refill-rounds 4 --output kill_b >/dev/null 2>kill_b.err &
pid=$!
for _ in $(seq 1 1000); do [ -s kill_b/cycle_1_refill_1_samples.jsonl ] && break; sleep 0.005; done
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
expect_rc 0 "resume after SIGKILL" -- "$HF" rl train "${common[@]}" --max-refill-rounds 4 --output kill_b
expect_rc 0 "after SIGKILL: the same final adapter" -- cmp kill_b/cycle_2_final/adapter_model.safetensors \
    ref/cycle_2_final/adapter_model.safetensors

# Stale refill files of other base samples are never used: a cycle sampled again drops them.
cp -r ref stale
rm -rf stale/cycle_2_final stale/cycle_2 stale/cycle_2_verified.jsonl
head -n 5 ref/cycle_2_samples.jsonl > stale/cycle_2_samples.jsonl
echo '{"prompt_id":"p1","prompt":"x","completion":"zzz","sample_idx":0,"n_tokens":0,"tokens":[],"logprobs":[],"refill_round":9,"reward":1}' \
    > stale/cycle_2_refill_9_verified.jsonl
expect_rc 0 "resume in the base rollout" -- "$HF" rl train "${common[@]}" --max-refill-rounds 4 --output stale
expect_rc 0 "stale refill file removed" -- test ! -e stale/cycle_2_refill_9_verified.jsonl
expect_rc 0 "stale: the same final adapter" -- cmp stale/cycle_2_final/adapter_model.safetensors \
    ref/cycle_2_final/adapter_model.safetensors

# Flag range.
expect_rc 2 "--max-refill-rounds above 100" -- "$HF" rl train "${common[@]}" --max-refill-rounds 101 --output bad
expect_grep "max-refill-rounds" "$T/err" "names the flag"
finish
