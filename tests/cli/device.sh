# --device on the commands that run a model: bad values are usage errors; cuda without a usable GPU (no
# module, no driver, no device) fails at once with exit 2 and a message saying why, writing nothing; auto
# falls back to the CPU and says so; info reports the CUDA module and its GPUs or why there are none.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

"$HF" -q model init --preset tiny --output m >/dev/null || { echo "FAIL: model init"; exit 1; }
echo '{"prompt": "int add(int a, int b) {", "tests": "assert(add(1, 2) == 3);"}' > p.jsonl

# A GPU is usable here when info lists one; then the no-GPU checks run with the module hidden instead.
"$HF" info > info.txt 2>&1
gpu=0
grep -qE '^ +cuda:0 ' info.txt && gpu=1
hide=()
[ $gpu -eq 1 ] && hide=(env HF_CUDA_MODULE=/nonexistent/libhf-cuda.so)

# command line of each command that has --device, minus the flag
cmds=(
    "score --model m --text hello"
    "generate --model m --prompt hello --max-new-tokens 2 --output res/gen.jsonl"
    "benchmark run --model m --prompts p.jsonl --samples 1 --max-new-tokens 2 --output res/run"
    "benchmark eval --model m --output res/eval"
    "benchmark full --model m --prompts p.jsonl --output res/full"
    "raft train --model m --prompts p.jsonl --cycles 1 --output res/raft"
    "test --level standard --model m"
)
for c in "${cmds[@]}"; do
    read -ra argv <<< "$c"
    name="${argv[0]}"; [ "${argv[0]}" = benchmark ] || [ "${argv[0]}" = raft ] && name="${argv[0]} ${argv[1]}"
    rm -rf res logs
    expect_rc 2 "$name --device cuda without a usable GPU" -- "${hide[@]}" "$HF" "${argv[@]}" --device cuda
    expect_grep "^halo-forge $name: --device cuda: " "$T/err" "$name: the message names the command and the flag"
    expect_grep "no usable GPU|not installed|does not exist|cannot be loaded" "$T/err" "$name: the message says why"
    if [ -e res ] || [ -e logs ]; then echo "FAIL: $name --device cuda wrote files: $(find res logs 2>/dev/null | head)"; fails=$((fails + 1)); fi
    expect_rc 2 "$name --device cuda:7 without a usable GPU" -- "${hide[@]}" "$HF" "${argv[@]}" --device cuda:7
    expect_grep "^halo-forge $name: --device cuda:7: " "$T/err" "$name: cuda:N is named in the message"
    expect_rc 2 "$name --device gpu is a usage error" -- "$HF" "${argv[@]}" --device gpu
    expect_grep "'gpu' is not a device \(use auto, cpu, cuda or cuda:N\)" "$T/err" "$name: the bad value is named"
    expect_rc 2 "$name --device cuda:-1 is a usage error" -- "$HF" "${argv[@]}" --device cuda:-1
    "$HF" "${argv[@]}" --help > help.txt 2>&1
    expect_grep "^ +--device DEVICE +Where the model runs" help.txt "$name --help lists --device"
done

# auto without a usable GPU runs on the CPU and says so
rm -rf res
expect_rc 0 "score --device auto falls back to the CPU" -- "${hide[@]}" "$HF" score --model m --text hello --device auto
expect_grep "device: cpu \(auto: " "$T/err" "auto says it uses the CPU and why"
expect_rc 0 "score --device cpu" -- "$HF" score --model m --text hello --device cpu
cp "$T/out" cpu.jsonl
"${hide[@]}" "$HF" score --model m --text hello --device auto > auto.jsonl 2>/dev/null
expect_rc 0 "auto on the CPU scores as cpu does" -- cmp cpu.jsonl auto.jsonl

# info: the module and its GPUs, or why there are none
expect_rc 0 "info" -- "${hide[@]}" "$HF" info
expect_grep "^CUDA +(unavailable \(|module )" "$T/out" "info has a CUDA line"
if [ $gpu -eq 1 ]; then
    expect_grep "^ +cuda:0 .*GiB.*compute capability [0-9]+\.[0-9]+.*driver CUDA [0-9]+\.[0-9]+" info.txt \
        "info lists the GPU: name, memory, compute capability, driver"
fi
expect_rc 0 "info --json" -- "$HF" info --json
cp "$T/out" info.json
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
expect_rc 0 "info --json has a cuda object" -- "$PY" -c '
import json, sys
c = json.load(open(sys.argv[1]))["cuda"]
assert set(c) >= {"module", "build", "status", "devices"}, c
assert isinstance(c["devices"], list)
assert (c["status"] is None) == (len(c["devices"]) > 0), c
for d in c["devices"]:
    assert d["memory_bytes"] > 0 and d["compute_capability"] and d["driver_cuda_version"], d
' info.json
finish
