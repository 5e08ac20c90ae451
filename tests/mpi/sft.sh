# sft train data-parallel: mpirun -np 2 (one thread per rank) against one process on a tiny model gives
# the same losses (float summation order only: relative 1e-4); rank 0 alone writes outputs; a rank
# killed mid-run stops the job with a message naming it, and --resume finishes with the result of an
# uninterrupted 2-rank run.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
MPI=("${HF_MPIEXEC:-mpirun}" --oversubscribe -x OMP_NUM_THREADS)

"$HF" -q model init --seed 3 --hidden-size 32 --intermediate-size 48 --num-heads 4 --num-kv-heads 2 --output m >/dev/null
for i in $(seq 1 24); do
    a=$((i * 7 % 50)); b=$((i * 13 % 50))
    echo "{\"prompt\": \"add $a $b\", \"completion\": \"$((a + b))\"}"
done > d.jsonl
common=(--model m --data d.jsonl --epochs 1 --batch-size 2 --gradient-accumulation 4 --learning-rate 5e-3
        --lora-rank 4 --save-steps 1 --save-total-limit 0 --validation-split 0)

expect_rc 0 "sft train, one process" -- "$HF" -q sft train "${common[@]}" --output one
expect_rc 0 "sft train, mpirun -np 2" -- "${MPI[@]}" -np 2 "$HF" -q sft train "${common[@]}" --output two
loss() { sed -n 's/.*"step":\([0-9]*\),.*"loss":\([0-9.]*\).*/\1 \2/p' "$1"; }
n1=$(loss one/metrics.jsonl | wc -l)
expect_rc 0 "3 steps each ($n1)" -- test "$n1" -eq 3 -a "$(loss two/metrics.jsonl | wc -l)" -eq 3
expect_rc 0 "same losses within 1e-4 relative" -- awk 'NR==FNR { a[$1] = $2; next }
    { d = $2 - a[$1]; if (d < 0) d = -d; if (d > 1e-4 * a[$1] || !($1 in a)) exit 1 }' <(loss one/metrics.jsonl) <(loss two/metrics.jsonl)
expect_rc 0 "one metrics file, written once (no duplicate lines)" -- test "$(grep -c '"loss"' two/metrics.jsonl)" -eq 3
expect_rc 0 "final model written" -- test -s two/final_model/adapter_model.safetensors

# Rank 1 alone is killed (SIGKILL) in step 3: the job stops, non-zero, naming the rank.
"${MPI[@]}" -np 1 "$HF" -q sft train "${common[@]}" --output k : \
    -np 1 -x HF_TRAIN_TEST_KILL_AT_STEP=3 "$HF" -q sft train "${common[@]}" --output k >k.out 2>k.err
rc=$?
expect_rc 0 "killed run exits non-zero (rc $rc)" -- test "$rc" -ne 0
expect_grep "process rank 1 .*exited on signal 9" k.err "message names rank 1 and the signal"
expect_rc 1 "no final model after the kill" -- test -d k/final_model
expect_rc 0 "rerun resumes from checkpoint-2" -- "${MPI[@]}" -np 2 "$HF" -q sft train "${common[@]}" --output k --resume k/checkpoint-2
strip() { sed 's/,"tokens_per_sec":[0-9.]*//' "$1"; }
expect_rc 0 "resumed metrics equal the uninterrupted 2-rank run's" -- cmp <(strip two/metrics.jsonl) <(strip k/metrics.jsonl)
expect_rc 0 "resumed adapter equals the uninterrupted one" -- cmp two/final_model/adapter_model.safetensors k/final_model/adapter_model.safetensors

# (raft train, rl train and benchmark run under -np 2: tests/mpi/rollout.sh)
finish
