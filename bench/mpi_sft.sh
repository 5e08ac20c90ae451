#!/usr/bin/env bash
# Training-step speed of sft train in one process against mpirun -np N (one thread per rank), on a
# random 4-layer model (hidden 384): tokens/s of each optimizer step from metrics.jsonl (which leaves
# out mpirun's start-up), and efficiency = speed-up / ranks. Usage: bench/mpi_sft.sh BUILD_DIR [N] [REPS]
set -euo pipefail
HF=$(realpath "${1:-build}")/halo-forge
N=${2:-2}; REPS=${3:-3}
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
export OMP_NUM_THREADS=1
D=$(mktemp -d /tmp/hf_mpibench_XXXXXX); trap 'rm -rf "$D"' EXIT; cd "$D"
"$HF" -q model init --seed 3 --hidden-size 384 --intermediate-size 1024 --num-heads 6 --num-kv-heads 2 --num-layers 4 --output m >/dev/null
for i in $(seq 1 128); do
    echo "{\"prompt\": \"add $i and $((i * 7)) then explain the sum in words please\", \"completion\": \"the sum of $i and $((i * 7)) is $((i * 8)) and that is all\"}"
done > d.jsonl
c=(--model m --data d.jsonl --epochs 1 --batch-size 2 --gradient-accumulation 16 --learning-rate 1e-3 --lora-rank 16
   --save-steps 0 --validation-split 0)
tps() { sed -n 's/.*"tokens_per_sec":\([0-9.]*\).*/\1/p' "$1" | awk '{ s += $1; n++ } END { printf "%.0f", s / n }'; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $(nproc --all)"
for r in $(seq 1 "$REPS"); do
    "$HF" -q sft train "${c[@]}" --output one >/dev/null
    mpirun --oversubscribe --bind-to none -np "$N" -x OMP_NUM_THREADS "$HF" -q sft train "${c[@]}" --output many >/dev/null
    a=$(tps one/metrics.jsonl); b=$(tps many/metrics.jsonl)
    awk -v a="$a" -v b="$b" -v n="$N" -v r="$r" 'BEGIN { printf "rep %d: 1 rank %s tokens/s, %d ranks %s tokens/s, speed-up %.2f, efficiency %.2f\n", r, a, n, b, b / a, b / a / n }'
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
