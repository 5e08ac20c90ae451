#!/usr/bin/env bash
# Rebuilds the bundled model models/tiny-coder from nothing, with halo-forge's own commands:
#   1. data synth       a corpus of (instruction, C/C++ program) pairs, each program compiled and run
#                       by our verifier to get its output (the 16 benchmark prompts are held out);
#   2. tokenizer train  a byte-level BPE tokenizer with the ChatML special tokens, on that corpus;
#   3. model init       a small random Qwen2-architecture model with that tokenizer;
#   4. sft train        full training from scratch (--no-lora) on the corpus;
#   5. the final weights, tokenizer and recommended RAFT settings -> the output folder (its model
#      card, README.md, is written by hand and kept).
# Same seed, same machine and thread count: the same bytes. About 25 minutes on 2 cores.
#
# usage: scripts/make-tiny-coder.sh [OUTPUT_DIR]     (default models/tiny-coder)
#   SEED=1          seed of every step
#   WORK=DIR        working folder (default build/tiny-coder-work); finished steps are kept, so a
#                   rerun after an interruption continues where it stopped
#   HF_BIN=PATH     the halo-forge program (default build/halo-forge)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-models/tiny-coder}
SEED=${SEED:-1}
WORK=${WORK:-build/tiny-coder-work}
HF=${HF_BIN:-build/halo-forge}
[ -x "$HF" ] || { echo "make-tiny-coder: $HF not found: build first (cmake -B build && cmake --build build -j)" >&2; exit 1; }

# The recipe. Changing any of these changes the model.
COUNT=6000 CPP_SHARE=0.75   # corpus records; share of C++ (most benchmark prompts are C++)
VOCAB=1024          # tokenizer size (256 bytes + merges + 3 special tokens)
HIDDEN=256 LAYERS=4 HEADS=4 KV_HEADS=2 FFN=704 CONTEXT=1024
EPOCHS=3 LR=1e-3 BATCH=8

mkdir -p "$WORK"
start=$(date +%s)
step() { echo "== $* ($(( $(date +%s) - start )) s)"; }

if [ ! -s "$WORK/corpus.jsonl" ]; then
    step "corpus"
    "$HF" data synth --count "$COUNT" --cpp-share "$CPP_SHARE" --seed "$SEED" --output "$WORK/corpus.jsonl"
fi
if [ ! -s "$WORK/tokenizer/tokenizer.json" ]; then
    step "tokenizer"
    "$HF" tokenizer train --data "$WORK/corpus.jsonl" --vocab-size "$VOCAB" --output "$WORK/tokenizer"
fi
if [ ! -s "$WORK/init/model.safetensors" ]; then
    step "random model"
    "$HF" model init --output "$WORK/init" --tokenizer "$WORK/tokenizer/tokenizer.json" --seed "$SEED" --dtype f32 \
        --hidden-size "$HIDDEN" --num-layers "$LAYERS" --num-heads "$HEADS" --num-kv-heads "$KV_HEADS" \
        --intermediate-size "$FFN" --max-position "$CONTEXT"
fi
if [ ! -s "$WORK/sft/final_model/model.safetensors" ]; then
    step "training"
    resume=()
    last=$(ls -d "$WORK"/sft/checkpoint-* 2>/dev/null | sort -t- -k2 -n | tail -1 || true)
    [ -n "$last" ] && resume=(--resume "$last")
    "$HF" sft train --no-lora --model "$WORK/init" --data "$WORK/corpus.jsonl" --output "$WORK/sft" "${resume[@]}" \
        --epochs "$EPOCHS" --learning-rate "$LR" --lr-scheduler cosine --warmup-steps 30 --batch-size "$BATCH" \
        --gradient-accumulation 1 --weight-decay 0.1 --max-grad-norm 1.0 --max-seq-length "$CONTEXT" \
        --validation-split 0.02 --eval-steps 200 --early-stopping-patience 0 --save-steps 200 --save-total-limit 1 \
        --no-gradient-checkpointing --seed "$SEED"
fi
step "packaging $OUT"
# Each file is replaced on its own (copy to a temporary name, then rename), so an interrupted
# packaging never leaves a half-written model; the model card (README.md) is kept as it is.
mkdir -p "$OUT"
for f in "$WORK"/sft/final_model/{config.json,generation_config.json,model.safetensors,tokenizer.json,tokenizer_config.json} \
         scripts/tiny-coder/halo-forge.yaml; do
    cp "$f" "$OUT/.$(basename "$f").tmp"
    mv "$OUT/.$(basename "$f").tmp" "$OUT/$(basename "$f")"
done
step "done: $(du -sh "$OUT" | cut -f1) in $OUT"
