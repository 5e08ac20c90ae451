# Loading an adapter folder wherever a model is loaded: `score` and `generate` on an adapter folder use its
# base model with the adapter applied, and give what the merged model (`lora merge`) gives; the base is found
# as an absolute path, relative to the adapter folder, or as a Hub id in the cache; bad adapters are refused
# with a message saying what is wrong.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

tiny=(--seed 3 --hidden-size 32 --intermediate-size 48 --num-heads 4 --num-kv-heads 2)
"$HF" -q model init "${tiny[@]}" --dtype f32 --output m32 >/dev/null
"$HF" -q model init "${tiny[@]}" --dtype bf16 --output m16 >/dev/null
for i in $(seq 1 24); do
    a=$((i * 7 % 50)); b=$((i * 13 % 50))
    echo "{\"prompt\": \"add $a $b\", \"completion\": \"$((a + b))\"}"
done > d.jsonl
text="add 7 13 makes 20, add 3 4 makes 7"

# logprobs of a score output, one per line; the largest difference between two outputs.
lp() { sed 's/.*"logprobs":\[\([^]]*\)\].*/\1/' "$1" | tr ',' '\n'; }
maxdiff() { paste <(lp "$1") <(lp "$2") | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { if (NR < 2) m = 1e30; printf "%g", m }'; }
within() { awk -v a="$(maxdiff "$1" "$2")" -v t="$3" 'BEGIN { exit !(a <= t) }'; }
beyond() { awk -v a="$(maxdiff "$1" "$2")" -v t="$3" 'BEGIN { exit !(a > t) }'; }
completions() { sed 's/.*"completion":\("[^"]*"\).*/\1/' "$1"; }

for dt in 32 16; do
    expect_rc 0 "sft train LoRA on the ${dt}-bit model" -- "$HF" -q sft train --model m$dt --data d.jsonl --epochs 2 \
        --batch-size 4 --learning-rate 2e-2 --lora-rank 4 --lora-alpha 8 --save-steps 0 --eval-steps 0 --output t$dt
    ad=t$dt/final_model
    expect_rc 0 "lora merge f32 (m$dt)" -- "$HF" -q lora merge --adapter $ad --output merged$dt --dtype f32
    expect_rc 0 "lora merge bf16 (m$dt)" -- "$HF" -q lora merge --adapter $ad --output merged${dt}b --dtype bf16
    expect_rc 0 "score the adapter folder (m$dt)" -- "$HF" -q score --model $ad --text "$text"
    cp "$T/out" s_adapter$dt
    expect_rc 0 "score the merged model (m$dt)" -- "$HF" -q score --model merged$dt --text "$text"
    cp "$T/out" s_merged$dt
    expect_rc 0 "score the bf16 merged model (m$dt)" -- "$HF" -q score --model merged${dt}b --text "$text"
    cp "$T/out" s_merged${dt}b
    expect_rc 0 "score the base (m$dt)" -- "$HF" -q score --model m$dt --text "$text"
    cp "$T/out" s_base$dt
    expect_rc 0 "the adapter changes the scores (m$dt: $(maxdiff s_adapter$dt s_base$dt))" -- beyond s_adapter$dt s_base$dt 1e-3
    expect_rc 0 "generate greedy from the adapter folder (m$dt)" -- "$HF" -q generate --model $ad --prompt "add 1 2" \
        --temperature 0 --num-samples 1 --max-new-tokens 12 --ignore-eos
    cp "$T/out" g_adapter$dt
    expect_rc 0 "generate greedy from the merged model (m$dt)" -- "$HF" -q generate --model merged$dt --prompt "add 1 2" \
        --temperature 0 --num-samples 1 --max-new-tokens 12 --ignore-eos
    cp "$T/out" g_merged$dt
done
# f32 base: the adapter is applied in f32, as lora merge does it.
expect_rc 0 "f32 base: adapter scores = merged scores within 1e-5 ($(maxdiff s_adapter32 s_merged32))" -- \
    within s_adapter32 s_merged32 1e-5
expect_rc 0 "f32 base: greedy text from the adapter = from the merged model" -- \
    cmp <(completions g_adapter32) <(completions g_merged32)
# bf16 base: the merged weights are rounded to bf16 in memory, as `lora merge --dtype bf16` rounds them on disk.
expect_rc 0 "bf16 base: adapter scores = bf16-merged scores ($(maxdiff s_adapter16 s_merged16b))" -- \
    within s_adapter16 s_merged16b 1e-5
expect_rc 0 "bf16 base: adapter scores = f32-merged within bf16 rounding ($(maxdiff s_adapter16 s_merged16))" -- \
    within s_adapter16 s_merged16 2e-2
expect_rc 0 "bf16 base: greedy text from the adapter = from the bf16-merged model" -- \
    bash -c "$HF -q generate --model merged16b --prompt 'add 1 2' --temperature 0 --num-samples 1 --max-new-tokens 12 \
        --ignore-eos | sed 's/.*\"completion\":\(\"[^\"]*\"\).*/\1/' | cmp - <(sed 's/.*\"completion\":\(\"[^\"]*\"\).*/\1/' g_adapter16)"

# Where the base is found: absolute, relative to the adapter folder, relative to the working directory,
# a Hub id in the cache. An adapter published without tokenizer files uses its base's.
mkdir -p rel/ad abs/ad hub/ad cwd/ad
for d in rel abs hub cwd; do cp t32/final_model/adapter_model.safetensors $d/ad/; done
setbase() { sed "s|\"base_model_name_or_path\":[^,]*,|\"base_model_name_or_path\": \"$2\",|" t32/final_model/adapter_config.json > "$1/adapter_config.json"; }
setbase rel/ad "../../m32"
setbase abs/ad "$T/m32"
setbase cwd/ad "m32"
setbase hub/ad "tiny-org/tiny-base"
snap=cache/models--tiny-org--tiny-base/snapshots/0123456789abcdef0123456789abcdef01234567
mkdir -p $snap cache/models--tiny-org--tiny-base/refs
cp m32/* $snap/
printf 0123456789abcdef0123456789abcdef01234567 > cache/models--tiny-org--tiny-base/refs/main
for d in rel abs cwd; do
    expect_rc 0 "base $d" -- "$HF" -q score --model $d/ad --text "$text"
    cp "$T/out" s_$d
    expect_rc 0 "base $d: same scores" -- within s_$d s_adapter32 0
done
expect_rc 0 "base as a Hub id in the cache" -- env HF_HUB_CACHE="$T/cache" HF_HUB_OFFLINE=1 "$HF" -q score --model hub/ad --text "$text"
cp "$T/out" s_hub
expect_rc 0 "base as a Hub id: same scores" -- within s_hub s_adapter32 0
expect_rc 1 "base as a Hub id not in the cache" -- env HF_HUB_CACHE="$T/nocache" "$HF" -q score --model hub/ad --text "$text"
expect_grep "base model \"tiny-org/tiny-base\" not found.*model download tiny-org/tiny-base" "$T/err" "says to download it"

# benchmark full on an SFT adapter folder: its evaluations sample from base + adapter, its RAFT cycle trains on top.
for i in 1 2; do echo "{\"id\": \"p$i\", \"prompt\": \"Write program number $i in C\", \"category\": \"c\"}"; done > p.jsonl
expect_rc 0 "benchmark full --model ADAPTER" -- "$HF" -q benchmark full --model t16/final_model --prompts p.jsonl \
    --samples-per-prompt 2 --max-new-tokens 6 --verifier custom --verify-command "grep e {file}" --batch-size 2 \
    --gradient-accumulation 1 --lora-rank 2 --monitor-interval 0.1 --workers 2 --cycles 1 --output bf
expect_rc 0 "benchmark full wrote its summary" -- test -s bf/summary.json

# Bad adapters: refused with the reason.
bad() { mkdir -p "$1"; cp t32/final_model/adapter_model.safetensors "$1/"; setbase "$1" "$T/m32"; }
bad nobase; setbase nobase "$T/no/such/model"
expect_rc 1 "base missing" -- "$HF" -q score --model nobase --text "$text"
expect_grep "nobase/adapter_config.json: base model \"$T/no/such/model\" not found" "$T/err" "names the missing base"
bad notmodel; setbase notmodel "$T/rel"
expect_rc 1 "base not a model folder" -- "$HF" -q score --model notmodel --text "$text"
expect_grep "is not a model folder" "$T/err" "says the base is no model"
bad badtarget; sed -i 's/"q_proj"/"qkv_proj"/' badtarget/adapter_config.json
expect_rc 1 "unknown target module" -- "$HF" -q score --model badtarget --text "$text"
expect_grep "target module \"qkv_proj\" does not exist" "$T/err" "names the module"
bad badrank; sed -i 's/"r":[^,]*,/"r": 8,/' badrank/adapter_config.json
expect_rc 1 "rank does not match the tensors" -- "$HF" -q score --model badrank --text "$text"
expect_grep "lora_A has shape \[4, 32\].*r=8" "$T/err" "says the shapes"
"$HF" -q model init --seed 3 --hidden-size 64 --intermediate-size 48 --num-heads 4 --num-kv-heads 2 --dtype f32 --output wide >/dev/null
bad otherbase; setbase otherbase "$T/wide"
expect_rc 1 "adapter of another model size" -- "$HF" -q score --model otherbase --text "$text"
expect_grep "need \[4, 64\]" "$T/err" "says the shapes the base needs"
bad norank; sed -i '/"r":/d' norank/adapter_config.json
expect_rc 1 "r missing" -- "$HF" -q score --model norank --text "$text"
expect_grep "missing \"r\"" "$T/err" "says r is missing"
bad noalpha; sed -i '/"lora_alpha":/d' noalpha/adapter_config.json
expect_rc 1 "lora_alpha missing" -- "$HF" -q score --model noalpha --text "$text"
expect_grep "missing \"lora_alpha\"" "$T/err" "says lora_alpha is missing"
bad stralpha; sed -i 's/"lora_alpha":[^,]*,/"lora_alpha": "8",/' stralpha/adapter_config.json
expect_rc 1 "lora_alpha of the wrong type" -- "$HF" -q score --model stralpha --text "$text"
expect_grep "invalid \"lora_alpha\"" "$T/err" "says lora_alpha is invalid"
bad dora; sed -i 's/"use_dora":[^,]*,/"use_dora": true,/' dora/adapter_config.json
expect_rc 1 "DoRA adapter" -- "$HF" -q score --model dora --text "$text"
expect_grep "\"use_dora\" is set" "$T/err" "says DoRA is not supported"
# An adapter on top of an adapter applies both, in order: the same as the merged model with the top
# adapter applied.
bad stacked; setbase stacked "$T/rel/ad"
expect_rc 0 "adapter on an adapter" -- "$HF" -q score --model stacked --text "$text"
cp "$T/out" s_stacked
bad stacked_m; setbase stacked_m "$T/merged32"
expect_rc 0 "adapter on the merged model" -- "$HF" -q score --model stacked_m --text "$text"
cp "$T/out" s_stacked_m
expect_rc 0 "stacked adapters = adapter on the merged model ($(maxdiff s_stacked s_stacked_m))" -- within s_stacked s_stacked_m 1e-5
expect_rc 0 "stacked adapters differ from one" -- beyond s_stacked s_adapter32 1e-3
expect_rc 0 "lora merge of stacked adapters" -- "$HF" -q lora merge --adapter stacked --output merged_stacked --dtype f32
expect_rc 0 "score the merged stacked adapters" -- "$HF" -q score --model merged_stacked --text "$text"
cp "$T/out" s_merged_stacked
expect_rc 0 "merged stacked adapters = stacked adapters ($(maxdiff s_stacked s_merged_stacked))" -- \
    within s_stacked s_merged_stacked 1e-5
bad loop; setbase loop "$T/loop"
expect_rc 1 "adapter that is its own base" -- "$HF" -q score --model loop --text "$text"
expect_grep "more than 8 adapters stacked" "$T/err" "says the chain loops"
mkdir -p notensors; setbase notensors "$T/m32"
expect_rc 1 "no adapter_model.safetensors" -- "$HF" -q score --model notensors --text "$text"
expect_grep "no adapter_model.safetensors" "$T/err" "says the weights are missing"

finish
