#!/usr/bin/env bash
# Sampling + verification speed of a rollout (benchmark run: the rollout the RAFT and RL cycles use) in one
# process against mpirun -np N (one thread per rank), on a random 4-layer model (hidden 384), 8 prompts x 4
# samples x 64 new tokens, every sample compiled by gcc (random text: compile errors). Time = generation +
# the wait for the last verdict from results.json (weights loading included, mpirun's start-up left out;
# the wall time of the whole command is printed too); efficiency = speed-up / ranks.
# Usage: bench/mpi_rollout.sh BUILD_DIR [N] [REPS]
set -euo pipefail
HF=$(realpath "${1:-build}")/halo-forge
N=${2:-2}; REPS=${3:-3}
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
export OMP_NUM_THREADS=1
D=$(mktemp -d /tmp/hf_mpibench_XXXXXX); trap 'rm -rf "$D"' EXIT; cd "$D"
"$HF" -q model init --seed 3 --hidden-size 384 --intermediate-size 1024 --num-heads 6 --num-kv-heads 2 --num-layers 4 --output m >/dev/null
for i in $(seq 1 8); do echo "{\"id\": \"p$i\", \"prompt\": \"Write a C program that prints the number $i and its square\"}"; done > p.jsonl
c=(--model m --prompts p.jsonl --samples 4 --k 1 --max-new-tokens 64 --temperature 0.7 --verifier gcc --compile-only
   --workers 1)
secs() { python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["timing"]; print("%.2f" % (t["generation_time"] + t["verification_time"]))' "$1"; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $(nproc --all)"
for r in $(seq 1 "$REPS"); do
    w0=$(date +%s.%N); "$HF" -q benchmark run "${c[@]}" -o one >/dev/null; w1=$(date +%s.%N)
    mpirun --oversubscribe --bind-to none -np "$N" -x OMP_NUM_THREADS "$HF" -q benchmark run "${c[@]}" -o many >/dev/null
    w2=$(date +%s.%N)
    cmp -s <(python3 -c 'import json,sys; [print(json.loads(l)["code"]) for l in open(sys.argv[1])]' one/samples.jsonl) \
           <(python3 -c 'import json,sys; [print(json.loads(l)["code"]) for l in open(sys.argv[1])]' many/samples.jsonl) \
        && same=same || same=DIFFERENT
    a=$(secs one/results.json); b=$(secs many/results.json)
    awk -v a="$a" -v b="$b" -v n="$N" -v r="$r" -v wa="$(echo "$w1 - $w0" | bc)" -v wb="$(echo "$w2 - $w1" | bc)" -v s="$same" \
        'BEGIN { printf "rep %d: 1 rank %.2f s, %d ranks %.2f s (wall %.2f / %.2f s), speed-up %.2f, efficiency %.2f, samples %s\n", r, a, n, b, wa, wb, a / b, a / b / n, s }'
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
