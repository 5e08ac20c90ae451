# The folders halo-forge writes, checked field by field against what Hugging Face transformers and PEFT read
# (tests/reference/hf_format.py; Debian packages neither, so they cannot be loaded there): random models of
# both architectures and dtypes, the bundled tiny-coder, LoRA adapters (all and some targets) and merged
# models. The checker is shown to catch broken folders too.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

chk() { /usr/bin/python3 "$SRC/tests/reference/hf_format.py" "$@"; }
tiny=(--seed 3 --hidden-size 32 --intermediate-size 48 --num-heads 4 --num-kv-heads 2 --num-layers 2)
expect_rc 0 "model init qwen2 f32" -- "$HF" -q model init "${tiny[@]}" --dtype f32 --output q32
expect_rc 0 "model init llama bf16, own head" -- "$HF" -q model init "${tiny[@]}" --arch llama --no-tie --output l16
for d in q32 l16 "$SRC/models/tiny-coder"; do
    expect_rc 0 "transformers reads $(basename "$d")" -- chk model "$d"
done

for i in $(seq 1 8); do echo "{\"prompt\": \"add $i 1\", \"completion\": \"$((i + 1))\"}"; done > d.jsonl
expect_rc 0 "sft LoRA, all projections" -- "$HF" -q sft train --model q32 --data d.jsonl --epochs 1 --batch-size 4 \
    --lora-rank 4 --lora-alpha 8 --save-steps 0 --eval-steps 0 --output s1
expect_rc 0 "PEFT reads the adapter" -- chk adapter s1/final_model q32
cat > qv.yaml <<'Y'
lora:
  target_modules: [q_proj, v_proj]
Y
expect_rc 0 "sft LoRA, q and v" -- "$HF" -q sft train --model l16 --config qv.yaml --data d.jsonl --epochs 1 --batch-size 4 \
    --lora-rank 2 --save-steps 0 --eval-steps 0 --output s2
expect_rc 0 "PEFT reads the q/v adapter" -- chk adapter s2/final_model l16
expect_rc 0 "lora merge f32" -- "$HF" -q lora merge --adapter s1/final_model --output mg --dtype f32
expect_rc 0 "transformers reads the merged model" -- chk model mg
expect_rc 0 "lora merge bf16 of the llama adapter" -- "$HF" -q lora merge --adapter s2/final_model --output mg2
expect_rc 0 "transformers reads the merged llama model" -- chk model mg2

# The checker fails where transformers / PEFT would.
cp -r q32 broken
sed -i 's/"model_type":[^,]*,/"model_type": "gpt2",/' broken/config.json
expect_rc 1 "a wrong model_type is caught" -- chk model broken
expect_grep "model_type" "$T/out" "names the field"
cp -r s1/final_model badad
sed -i 's/"task_type":[^,]*,/"task_type": "SEQ_CLS", "lora_typo": 1,/' badad/adapter_config.json
expect_rc 1 "a wrong task_type and an unknown key are caught" -- chk adapter badad q32
expect_grep "task_type" "$T/out" "names task_type"
expect_grep "lora_typo is not a LoraConfig field" "$T/out" "names the unknown key"
head -c 5000 q32/model.safetensors > broken/model.safetensors
expect_rc 1 "a truncated safetensors is caught" -- chk model broken
finish
