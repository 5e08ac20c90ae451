# sft train and lora merge, end to end on a tiny model: data formats and bad lines, metrics and
# checkpoints, bit-exact resume after a kill in the middle of a step, full fine-tuning, YAML config,
# flag errors, merging.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

"$HF" -q model init --seed 3 --hidden-size 32 --intermediate-size 48 --num-heads 4 --num-kv-heads 2 --output m >/dev/null
{
    for i in $(seq 1 12); do
        a=$((i * 7 % 50)); b=$((i * 13 % 50))
        echo "{\"prompt\": \"add $a $b\", \"completion\": \"$((a + b))\"}"
        echo "{\"messages\": [{\"role\": \"user\", \"content\": \"sub $a $b\"}, {\"role\": \"assistant\", \"content\": \"$((a - b))\"}]}"
        echo "{\"instruction\": \"mul $a\", \"input\": \"$b\", \"output\": \"$((a * b))\"}"
        echo "{\"text\": \"$a and $b make $((a + b))\"}"
    done
    echo 'this is not json'
    echo '{"prompt": 3, "completion": "x"}'
} > d.jsonl

common=(--model m --data d.jsonl --epochs 2 --batch-size 3 --gradient-accumulation 2 --learning-rate 5e-3
        --lora-rank 4 --lora-dropout 0.1 --save-steps 4 --eval-steps 4 --save-total-limit 0 --validation-split 0.1)
expect_rc 0 "sft train (LoRA)" -- "$HF" sft train "${common[@]}" --output a
expect_grep "^a/final_model$" "$T/out" "prints the final model folder"
expect_grep "d.jsonl:49: invalid JSON" "$T/err" "bad JSON line reported with its line number"
expect_grep "d.jsonl:50: " "$T/err" "record of the wrong type reported with its line number"
for f in adapter_config.json adapter_model.safetensors tokenizer.json trainer_state.bin; do
    if [ -s "a/final_model/$f" ]; then passes=$((passes + 1)); else echo "FAIL: a/final_model/$f missing"; fails=$((fails + 1)); fi
done
expect_grep '"peft_type":[[:space:]]*"LORA"' a/final_model/adapter_config.json "PEFT adapter config"
expect_grep 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' a/final_model/adapter_model.safetensors "PEFT tensor names"
expect_grep 'base_model.model.model.layers.1.mlp.down_proj.lora_B.weight' a/final_model/adapter_model.safetensors "PEFT mlp names"
steps=$(grep -c '"loss"' a/metrics.jsonl)
expect_rc 0 "one metrics line per optimizer step ($steps)" -- test "$steps" -eq 16
expect_grep '"step":4,"eval_loss"' a/metrics.jsonl "eval lines"
expect_grep '"step":1,"epoch":[0-9.]+,"loss":[0-9.]+,"lr":[0-9.e-]+,"grad_norm":[0-9.]+,"tokens":[0-9]+,"tokens_per_sec"' a/metrics.jsonl "metrics fields"
expect_rc 1 "first step learns (lr > 0)" -- grep -q '"step":1,[^}]*"lr":0,' a/metrics.jsonl
first=$(grep '"step":1,' a/metrics.jsonl | sed 's/.*"loss":\([0-9.]*\).*/\1/')
last=$(grep '"step":16,' a/metrics.jsonl | sed 's/.*"loss":\([0-9.]*\).*/\1/')
expect_rc 0 "loss goes down ($first -> $last)" -- awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }'
ls -d a/checkpoint-* > ckpts
expect_rc 0 "checkpoints 4, 8, 12, 16" -- test "$(cat ckpts | tr "\n" " ")" = "a/checkpoint-12 a/checkpoint-16 a/checkpoint-4 a/checkpoint-8 "

# A hard kill in the middle of step 6, then --resume from checkpoint-4: the same losses and weights, bit for bit.
HF_TRAIN_TEST_KILL_AT_STEP=6 "$HF" -q sft train "${common[@]}" --output b >/dev/null 2>&1
rc=$?
expect_rc 0 "killed run died by SIGKILL (rc $rc)" -- test "$rc" -eq 137
expect_rc 1 "no final model after the kill" -- test -d b/final_model
expect_rc 0 "resume" -- "$HF" -q sft train "${common[@]}" --output b --resume b/checkpoint-4
strip() { sed 's/,"tokens_per_sec":[0-9.]*//' "$1"; }
expect_rc 0 "resumed metrics equal the uninterrupted run's" -- cmp <(strip a/metrics.jsonl) <(strip b/metrics.jsonl)
expect_rc 0 "resumed adapter equals the uninterrupted one" -- cmp a/final_model/adapter_model.safetensors b/final_model/adapter_model.safetensors
expect_rc 0 "checkpoint state equal too" -- cmp a/checkpoint-12/trainer_state.bin b/checkpoint-12/trainer_state.bin
expect_rc 0 "resumed best_model equals the uninterrupted one" -- cmp a/best_model/adapter_model.safetensors b/best_model/adapter_model.safetensors

expect_rc 1 "resume with other settings" -- "$HF" -q sft train "${common[@]}" --lora-rank 2 --output b2 --resume b/checkpoint-4
expect_grep "not a training state" "$T/err" "says the state does not fit"

# The same seed gives the same run; another seed another.
expect_rc 0 "other seed" -- "$HF" -q sft train "${common[@]}" --output c --seed 5 --save-steps 0
expect_rc 1 "other seed, other adapter" -- cmp -s a/final_model/adapter_model.safetensors c/final_model/adapter_model.safetensors

# Merge: a merged model is a plain model folder that scores differently from the base.
expect_rc 0 "lora merge" -- "$HF" -q lora merge --adapter a/final_model --output merged --dtype f32
expect_grep "^merged$" "$T/out" "prints the merged folder"
expect_rc 0 "score merged" -- "$HF" -q score --model merged --text "add 7 13"
cp "$T/out" s_merged.json
expect_rc 0 "score base" -- "$HF" -q score --model m --text "add 7 13"
expect_rc 1 "merged model differs from the base" -- cmp -s s_merged.json "$T/out"
expect_rc 1 "lora merge of a non-adapter" -- "$HF" -q lora merge --adapter m --output x
expect_grep "adapter_config.json" "$T/err" "says why"

# Training on top of an adapter folder loads its base and applies the adapter.
expect_rc 0 "train from an adapter folder" -- "$HF" sft train --model a/final_model --data d.jsonl --epochs 1 \
    --batch-size 8 --gradient-accumulation 1 --lora-rank 2 --save-steps 0 --eval-steps 0 --output e
expect_grep "Loaded adapter a/final_model" "$T/err" "applies the adapter"
expect_grep '"base_model_name_or_path":[[:space:]]*"a/final_model"' e/final_model/adapter_config.json \
    "the new adapter's base is the adapter it was trained on"
expect_rc 0 "score the adapter trained on an adapter" -- "$HF" -q score --model e/final_model --text "add 7 13"
cp "$T/out" s_e.json
expect_rc 0 "merge it (both adapters)" -- "$HF" -q lora merge --adapter e/final_model --output em --dtype f32
expect_rc 0 "score the merge" -- "$HF" -q score --model em --text "add 7 13"
cp "$T/out" s_em.json
lp() { sed 's/.*"logprobs":\[\([^]]*\)\].*/\1/' "$1" | tr ',' '\n'; }
expect_rc 0 "stacked adapters score as their merge (bf16 base: within bf16 rounding)" -- awk 'NR == FNR { a[FNR] = $1; next } { d = a[FNR] - $1; if (d < 0) d = -d; if (d > 1e-3) bad = 1 } END { exit bad || FNR < 2 }' <(lp s_e.json) <(lp s_em.json)

# Full fine-tuning, without gradient checkpointing, no shuffling, train on prompt.
expect_rc 0 "sft train --no-lora" -- "$HF" -q sft train --model m --data d.jsonl --no-lora --epochs 1 --batch-size 8 \
    --gradient-accumulation 1 --learning-rate 1e-3 --save-steps 0 --eval-steps 0 --no-gradient-checkpointing \
    --no-shuffle --train-on-prompt --lr-scheduler linear --warmup-steps 2 --output f
expect_rc 0 "full model saved" -- test -s f/final_model/model.safetensors
expect_rc 0 "full model scores" -- "$HF" -q score --model f/final_model --text "add 7 13"

# YAML config with the original's sections; CLI wins over the config.
cat > cfg.yaml <<'Y'
model:
  name: m
data:
  train_file: d.jsonl
  validation_split: 0.0
  max_seq_length: 64
lora:
  r: 2
  alpha: 4
  target_modules: [q_proj, v_proj]
training:
  output_dir: g
  num_train_epochs: 1
  per_device_train_batch_size: 16
  gradient_accumulation_steps: 1
  learning_rate: 5e-5
  save_steps: 0
  bf16: true
Y
expect_rc 0 "sft train --config" -- "$HF" -q sft train --config cfg.yaml --epochs 2
expect_grep '"r":[[:space:]]*2' g/final_model/adapter_config.json "rank from the config"
expect_grep '"target_modules":[[:space:]]*\["q_proj", "v_proj"\]' g/final_model/adapter_config.json "targets from the config"
expect_rc 0 "epochs from the CLI" -- test "$(grep -c '"loss"' g/metrics.jsonl)" -eq 6
printf 'training:\n  learning_rate: fast\n' > bad.yaml
expect_rc 2 "config with a wrong type" -- "$HF" sft train --config bad.yaml --model m --data d.jsonl
expect_grep "learning_rate|learning-rate" "$T/err" "names the key"
# Each kind of wrong type is refused before any work, naming the key.
i=0
while IFS='|' read -r yaml key; do
    i=$((i + 1))
    printf "$yaml\n" > bad$i.yaml
    expect_rc 2 "config with a wrong type: $key" -- "$HF" sft train --config bad$i.yaml --model m --data d.jsonl --output bad$i
    expect_grep "bad$i.yaml:[0-9]+: $key" "$T/err" "names $key and its line"
    expect_rc 1 "nothing written for bad$i.yaml" -- test -e bad$i
done <<'CASES'
lora:\n  r: big|lora.r
training:\n  num_train_epochs: 1.5|training.num_train_epochs
lora:\n  disabled: maybe|lora.disabled
data:\n  validation_split: [0.1, 0.2]|data.validation_split
data:\n  max_seq_length:\n    tokens: 64|data.max_seq_length
lora: 8|lora
lora:\n  dropout: 1.5|lora.dropout
CASES

# Early stopping: no evaluation can improve by 100, so training stops after 1 + patience evaluations.
expect_rc 0 "early stopping" -- "$HF" -q sft train --model m --data d.jsonl --epochs 3 --batch-size 4 \
    --gradient-accumulation 1 --eval-steps 1 --early-stopping-patience 2 --early-stopping-threshold 100 \
    --validation-split 0.2 --save-steps 1 --save-total-limit 0 --output es
expect_rc 0 "stopped after 3 steps" -- test "$(grep -c '"loss"' es/metrics.jsonl)" -eq 3
expect_rc 0 "final model after early stopping" -- test -s es/final_model/adapter_model.safetensors
# final_model is the last step's weights; best_model the weights of the best evaluation (the first here).
expect_grep '"step": 1, "eval_loss"' es/best_model/best_eval.json "best_model says its step"
expect_rc 0 "best_model holds step 1's weights" -- cmp es/best_model/adapter_model.safetensors es/checkpoint-1/adapter_model.safetensors
expect_rc 0 "final_model holds step 3's weights" -- cmp es/final_model/adapter_model.safetensors es/checkpoint-3/adapter_model.safetensors
expect_rc 1 "best and final differ" -- cmp -s es/best_model/adapter_model.safetensors es/final_model/adapter_model.safetensors
expect_rc 0 "best_model loads (score)" -- "$HF" -q score --model es/best_model --text "add 7 13"
expect_rc 1 "no best_model without a validation split" -- test -e g/best_model

# Errors.
expect_rc 1 "no model folder" -- "$HF" sft train --model nowhere --data d.jsonl
expect_grep "nowhere: not a model folder" "$T/err" "says the model folder is missing"
expect_rc 2 "no data" -- "$HF" sft train --model m
expect_rc 2 "a dataset outside the registry" -- "$HF" sft train --model m --dataset codealpaca
expect_grep "unknown dataset 'codealpaca'.*sft datasets.*--data" "$T/err" "points at sft datasets and --data"
expect_rc 2 "unknown target module" -- "$HF" sft train --model m --data d.jsonl --target-modules q_proj,foo
expect_rc 2 "bad scheduler" -- "$HF" sft train --model m --data d.jsonl --lr-scheduler step
echo '{"foo": 1}' > bad.jsonl
expect_rc 1 "no usable records" -- "$HF" sft train --model m --data bad.jsonl --output h
expect_grep "no usable records" "$T/err" "says so"
expect_rc 0 "dry run" -- "$HF" sft train --model m --data d.jsonl --dry-run --output i
expect_rc 1 "dry run trains nothing" -- test -d i/final_model
finish
