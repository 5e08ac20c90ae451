# The bad-input sweep: every command fed malformed files of each kind and bad flag values. The rule for
# every case: a non-zero exit (not a signal, not a hang: each run has a time limit), a message that names
# the file and the line / field, or the flag, and no partial output where a finished file would be.
# Files where only some lines are bad are a separate, documented case: the bad lines are reported with
# FILE:LINE and skipped (see docs/reliability.md), and a file with no usable line is an error.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
export HF_HUB_OFFLINE=1 HF_HUB_CACHE="$T/hub-cache"
limit=60
[ -n "${HF_SANITIZED:-}" ] && limit=240

# bad PATTERN WHAT -- COMMAND...: COMMAND must exit 1..125 within the limit and print PATTERN (ERE) on stderr.
# Outputs a case could leave are removed before it runs (clean).
bad() {
    local pat=$1 what=$2; shift 3
    timeout -k 5 "$limit" "$@" >"$T/out" 2>"$T/err" </dev/null
    local rc=$? why=""
    # `test` reports each check on stdout, its error lines included
    [ "$1" = "$HF" ] && [ "${2:-}" = test ] && cat "$T/out" >>"$T/err"
    if [ $rc -eq 0 ]; then why="exit 0"
    elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then why="no answer within $limit s (hang)"
    elif [ $rc -ge 128 ]; then why="killed by signal $((rc - 128))"
    elif grep -q -e "AddressSanitizer" -e "runtime error:" "$T/err"; then why="sanitizer report"
    elif ! grep -qE -- "$pat" "$T/err"; then why="message does not match /$pat/"
    fi
    if [ -n "$why" ]; then
        echo "FAIL: $what: $why (exit $rc)"; echo "--- stderr"; head -c 1500 "$T/err"; echo
        fails=$((fails + 1))
    else
        passes=$((passes + 1))
    fi
}
# absent PATH WHAT: a failed command left nothing at PATH.
absent() {
    if [ -e "$1" ]; then echo "FAIL: $2: $1 was left behind"; ls -la "$1"; fails=$((fails + 1)); else passes=$((passes + 1)); fi
}

"$HF" -q model init --preset tiny --seed 1 --output m >/dev/null || { echo "model init failed"; exit 1; }
printf '{"id": "p1", "prompt": "Write a C program that prints 1"}\n' > prompts.jsonl
printf '{"text": "int main() { return 0; }"}\n' > data.jsonl
printf '{"id": "s1", "completion": "```c\\nint main(){return 0;}\\n```"}\n' > samples.jsonl
touch afile
"$HF" -q sft train --model m --data data.jsonl --output sft --max-steps 1 --lora-rank 2 >/dev/null 2>&1 ||
    { echo "sft train (the adapter fixture) failed"; exit 1; }
clean() { rm -rf g.jsonl br.json v.jsonl bs.json ds.jsonl merged b.json "$@"; }

# ---------------------------------------------------------------- broken model folders
# mkmodel NAME PYTHON: a copy of m changed by a python snippet (d = the folder).
mkmodel() {
    rm -rf "$1"; cp -r m "$1"
    $PY - "$1" <<PYEOF || { echo "FAIL: fixture $1"; fails=$((fails + 1)); }
import json, os, struct, sys
d = sys.argv[1]
def cfg(**kv):
    c = json.load(open(f"{d}/config.json")); c.update(kv); json.dump(c, open(f"{d}/config.json", "w"))
def st():
    b = open(f"{d}/model.safetensors", "rb").read(); n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]
def st_write(h, data, hlen=None):
    hb = json.dumps(h).encode(); hb += b" " * (-len(hb) % 8)
    open(f"{d}/model.safetensors", "wb").write(struct.pack("<Q", hlen if hlen is not None else len(hb)) + hb + data)
$2
PYEOF
}
mkmodel trunc_st   'b = open(f"{d}/model.safetensors","rb").read(); open(f"{d}/model.safetensors","wb").write(b[:len(b)//2])'
mkmodel empty_st   'open(f"{d}/model.safetensors","wb").close()'
mkmodel hdr_huge   'h, data = st(); st_write(h, data, hlen=1 << 62)'
mkmodel hdr_json   'h, data = st(); open(f"{d}/model.safetensors","wb").write(struct.pack("<Q", 8) + b"{\"a\":[1," + data)'
mkmodel off_past   'h, data = st(); k = sorted(x for x in h if x != "__metadata__")[0]; h[k]["data_offsets"][1] += 1 << 40; st_write(h, data)'
mkmodel shape_neg  'h, data = st(); k = sorted(x for x in h if x != "__metadata__")[0]; h[k]["shape"][0] = -4; st_write(h, data)'
mkmodel shape_bad  'h, data = st(); k = "model.embed_tokens.weight"; h[k]["shape"] = [h[k]["shape"][0] // 2, h[k]["shape"][1] * 2]; st_write(h, data)'
mkmodel dtype_bad  'h, data = st(); k = sorted(x for x in h if x != "__metadata__")[0]; h[k]["dtype"] = "I64"; st_write(h, data)'
mkmodel nan_w      'h, data = st(); k = "model.norm.weight"; o = h[k]["data_offsets"]; data = bytearray(data); data[o[0]:o[1]] = (b"\xc0\x7f" if h[k]["dtype"] == "BF16" else b"\x00\x00\xc0\x7f") * ((o[1]-o[0]) // (2 if h[k]["dtype"] == "BF16" else 4)); st_write(h, bytes(data))'
mkmodel inf_w      'h, data = st(); k = "model.layers.0.mlp.down_proj.weight"; o = h[k]["data_offsets"]; data = bytearray(data); data[o[0]:o[0]+2] = b"\x80\x7f"; st_write(h, bytes(data))'
mkmodel cfg_empty  'open(f"{d}/config.json","w").close()'
mkmodel cfg_list   'open(f"{d}/config.json","w").write("[1, 2]")'
mkmodel cfg_type   'cfg(hidden_size="sixty-four")'
mkmodel cfg_neg    'cfg(num_hidden_layers=-2)'
mkmodel cfg_huge   'cfg(vocab_size=10**12)'
mkmodel cfg_heads  'cfg(num_attention_heads=3)'
mkmodel cfg_dup    't = open(f"{d}/config.json").read(); open(f"{d}/config.json","w").write(t.replace("{", "{\"hidden_size\": 128, ", 1))'
mkmodel cfg_utf8   't = open(f"{d}/config.json","rb").read(); open(f"{d}/config.json","wb").write(t.replace(b"qwen2", b"qwen\xff\xfe"))'
mkmodel cfg_dir    'os.remove(f"{d}/config.json"); os.mkdir(f"{d}/config.json")'
mkmodel cfg_loop   'os.remove(f"{d}/config.json"); os.symlink("config.json", f"{d}/config.json")'
mkmodel gen_type   'open(f"{d}/generation_config.json","w").write("{\"eos_token_id\": \"end\"}")'
mkmodel gen_eos    'open(f"{d}/generation_config.json","w").write("{\"eos_token_id\": 99999999}")'
mkmodel cfg_bos    'cfg(bos_token_id=10**6)'
mkmodel gen_bos    'open(f"{d}/generation_config.json","w").write("{\"bos_token_id\": 1000000}")'
mkmodel tok_trunc  't = open(f"{d}/tokenizer.json").read(); open(f"{d}/tokenizer.json","w").write(t[:len(t)//2])'
mkmodel tok_utf8   't = open(f"{d}/tokenizer.json","rb").read(); open(f"{d}/tokenizer.json","wb").write(t.replace(b"\"model\"", b"\"mod\xc3\x28el\"", 1))'
mkmodel tok_str    'open(f"{d}/tokenizer.json","w").write("\"a string\"")'
mkmodel tok_merge  't = json.load(open(f"{d}/tokenizer.json")); t["model"]["merges"].append("nosuch token"); json.dump(t, open(f"{d}/tokenizer.json","w"))'
mkmodel tok_dir    'os.remove(f"{d}/tokenizer.json"); os.mkdir(f"{d}/tokenizer.json")'
mkmodel no_weights 'os.remove(f"{d}/model.safetensors")'
mkmodel st_dir     'os.remove(f"{d}/model.safetensors"); os.mkdir(f"{d}/model.safetensors")'
if [ "$(id -u)" -ne 0 ]; then mkmodel cfg_noread 'os.chmod(f"{d}/config.json", 0)'; fi

# Which file each broken model's message must name (and a word of what is wrong).
declare -A why=(
    [trunc_st]='model\.safetensors' [empty_st]='model\.safetensors' [hdr_huge]='model\.safetensors.*header'
    [hdr_json]='model\.safetensors' [off_past]='model\.safetensors.*(offset|past|end|size)'
    [shape_neg]='model\.safetensors.*shape' [shape_bad]='model\.safetensors.*(shape|embed_tokens)'
    [dtype_bad]='model\.safetensors.*(dtype|I64)' [nan_w]='model\.safetensors.*(NaN|Inf|not finite)'
    [inf_w]='model\.safetensors.*(NaN|Inf|not finite)'
    [cfg_empty]='config\.json' [cfg_list]='config\.json' [cfg_type]='config\.json.*hidden_size'
    [cfg_neg]='config\.json.*num_hidden_layers' [cfg_huge]='config\.json.*vocab_size'
    [cfg_heads]='config\.json.*(heads|hidden_size)' [cfg_dup]='config\.json.*duplicate.*hidden_size'
    [cfg_utf8]='config\.json.*UTF-8' [cfg_dir]='config\.json' [cfg_loop]='config\.json' [cfg_noread]='config\.json'
    [gen_type]='generation_config\.json.*eos_token_id' [gen_eos]='generation_config\.json.*eos_token_id'
    [cfg_bos]='config\.json.*bos_token_id' [gen_bos]='generation_config\.json.*bos_token_id'
    [tok_trunc]='tokenizer\.json' [tok_utf8]='tokenizer\.json' [tok_str]='tokenizer\.json' [tok_merge]='tokenizer\.json.*merge'
    [tok_dir]='tokenizer\.json' [no_weights]='model\.safetensors' [st_dir]='model\.safetensors'
)
for b in "${!why[@]}"; do
    [ -d "$b" ] || continue
    p=${why[$b]}
    clean "$b".*
    case $b in
    tok_*)
        bad "$p" "tokenize with $b" -- "$HF" tokenize --model "$b" --text "int main"
        bad "$p" "generate with $b" -- "$HF" generate --model "$b" --prompt hi -n 1 --max-new-tokens 2 --output "$b.gen.jsonl"
        absent "$b.gen.jsonl" "generate with $b" ;;
    *)
        bad "$p" "generate with $b" -- "$HF" generate --model "$b" --prompt hi -n 1 --max-new-tokens 2 --output "$b.gen.jsonl"
        absent "$b.gen.jsonl" "generate with $b"
        bad "$p" "score with $b" -- "$HF" score --model "$b" --text "int main" ;;
    esac
    bad "$p" "sft train with $b" -- "$HF" sft train --model "$b" --data data.jsonl --output "$b.sft" --max-steps 1
    absent "$b.sft/final" "sft train with $b"
    bad "$p" "raft train with $b" -- "$HF" raft train --model "$b" --prompts prompts.jsonl --output "$b.raft" --cycles 1 \
        --samples-per-prompt 1 --max-new-tokens 2
    absent "$b.raft/cycle_1_final" "raft train with $b"
    bad "$p" "benchmark run with $b" -- "$HF" benchmark run --model "$b" --prompts prompts.jsonl --samples 1 \
        --max-new-tokens 2 --output "$b.run.json"
    absent "$b.run.json" "benchmark run with $b"
    bad "$p" "benchmark full with $b" -- "$HF" benchmark full --model "$b" --prompts prompts.jsonl --cycles 1 \
        --samples-per-prompt 1 --max-new-tokens 2 --output "$b.full"
    absent "$b.full/summary.json" "benchmark full with $b"
    bad "$p" "test --level standard with $b" -- "$HF" test --level standard --model "$b"
done
bad 'model\.safetensors.*(NaN|Inf|not finite)' "lora merge onto a NaN model" -- \
    "$HF" lora merge --model nan_w --adapter sft/final_model --output merged
absent merged "lora merge onto a NaN model"

# ---------------------------------------------------------------- malformed JSONL and YAML inputs
printf '[1, 2]\n"just a string"\n42\nnull\n' > nonobj.jsonl
printf '{"prompt": "Write \xff\xfe C"}\n' > badutf8.jsonl
printf '{"prompt": "a", "prompt": "b", "id": "x"}\n' > dupkey.jsonl
printf '{"prompt": "cut at' > trunc.jsonl
printf '{"id": "q", "other": 1}\n' > missing.jsonl
printf '{"prompt": 17}\n{"completion": ["a"]}\n' > wrongtype.jsonl
: > empty.jsonl
mkdir -p adir.jsonl
for f in nonobj badutf8 dupkey trunc missing wrongtype empty adir; do
    pat="$f\.jsonl"
    clean "r_$f" "s_$f" "t_$f"
    case $f in
        nonobj|trunc|wrongtype|missing) pat="$f\.jsonl:[0-9]+" ;;
        badutf8) pat="badutf8\.jsonl:1:.*UTF-8" ;;
        dupkey) pat="dupkey\.jsonl:1:.*duplicate.*prompt" ;;
    esac
    bad "$pat" "generate --prompts $f" -- "$HF" generate --model m --prompts "$f.jsonl" -n 1 --max-new-tokens 2 --output g.jsonl
    absent g.jsonl "generate --prompts $f"
    bad "$pat" "raft train --prompts $f" -- "$HF" raft train --model m --prompts "$f.jsonl" --output "r_$f" --cycles 1 \
        --samples-per-prompt 1 --max-new-tokens 2
    absent "r_$f/cycle_1_final" "raft train --prompts $f"
    bad "$pat" "benchmark run --prompts $f" -- "$HF" benchmark run --model m --prompts "$f.jsonl" --samples 1 \
        --max-new-tokens 2 --output br.json
    absent br.json "benchmark run --prompts $f"
    bad "$pat" "sft train --data $f" -- "$HF" sft train --model m --data "$f.jsonl" --output "s_$f" --max-steps 1
    absent "s_$f/final" "sft train --data $f"
    bad "$pat" "verify --input $f" -- "$HF" verify --verifier gcc --input "$f.jsonl" --output v.jsonl
    absent v.jsonl "verify --input $f"
    bad "$pat" "benchmark score --input $f" -- "$HF" benchmark score --input "$f.jsonl" --output bs.json
    absent bs.json "benchmark score --input $f"
    bad "$pat" "tokenizer train --data $f" -- "$HF" tokenizer train --data "$f.jsonl" --vocab-size 300 --output "t_$f"
    absent "t_$f/tokenizer.json" "tokenizer train --data $f"
done

printf 'training:\n  learning_rate: fast\n' > cfg_type.yaml
printf 'cycles: 2\ncycles: 3\n' > cfg_dup.yaml
printf 'a: [1, 2\n' > cfg_syntax.yaml
printf -- '- just\n- a list\n' > cfg_list.yaml
printf 'cycles: -3\n' > cfg_range.yaml
printf 'model: "\xff"\n' > cfg_utf8.yaml
mkdir -p cfg_dir.yaml
bad 'cfg_type\.yaml:2:.*learning_rate' "config with a word for a number" -- "$HF" raft train --config cfg_type.yaml --model m --prompts prompts.jsonl --output c1
bad 'cfg_dup\.yaml:2:.*cycles.*(duplicate|twice)' "config with a duplicate key" -- "$HF" raft train --config cfg_dup.yaml --model m --prompts prompts.jsonl --output c2
bad 'cfg_syntax\.yaml:[0-9]+' "config with a syntax error" -- "$HF" raft train --config cfg_syntax.yaml --model m --prompts prompts.jsonl --output c3
bad 'cfg_list\.yaml' "config that is a list" -- "$HF" sft train --config cfg_list.yaml --model m --data data.jsonl --output c4
bad 'cfg_range\.yaml:1:.*cycles' "config with an out-of-range value" -- "$HF" raft train --config cfg_range.yaml --model m --prompts prompts.jsonl --output c5
bad 'cfg_utf8\.yaml' "config with invalid UTF-8" -- "$HF" raft train --config cfg_utf8.yaml --model m --prompts prompts.jsonl --output c6
bad 'cfg_dir\.yaml' "config that is a folder" -- "$HF" config validate cfg_dir.yaml
bad 'cfg_type\.yaml:2:.*learning_rate' "config validate of a bad config" -- "$HF" config validate cfg_type.yaml
for c in c1 c2 c3 c4 c5 c6; do absent "$c" "a bad --config leaves no output folder ($c)"; done

# ---------------------------------------------------------------- outputs that cannot be written
bad 'afile/x' "model init into a path under a file" -- "$HF" model init --preset tiny --output afile/x
bad 'afile/x' "generate --output under a file" -- "$HF" generate --model m --prompt hi -n 1 --max-new-tokens 2 --output afile/x.jsonl
bad 'afile/x' "verify --output under a file" -- "$HF" verify --verifier gcc --input samples.jsonl --output afile/x.jsonl
bad 'afile/x' "sft train --output under a file" -- "$HF" sft train --model m --data data.jsonl --output afile/x --max-steps 1
bad 'afile/x' "raft train --output under a file" -- "$HF" raft train --model m --prompts prompts.jsonl --output afile/x --cycles 1 --samples-per-prompt 1 --max-new-tokens 2
bad 'afile/x' "benchmark full --output under a file" -- "$HF" benchmark full --model m --prompts prompts.jsonl --output afile/x --cycles 1 --samples-per-prompt 1 --max-new-tokens 2
bad 'afile' "benchmark run --output under a file" -- "$HF" benchmark run --model m --prompts prompts.jsonl --output afile/x.json --samples 1 --max-new-tokens 2
bad 'afile/x' "data synth --output under a file" -- "$HF" data synth --count 1 --output afile/x.jsonl
bad 'afile/x' "tokenizer train --output under a file" -- "$HF" tokenizer train --data data.jsonl --vocab-size 300 --output afile/x
bad 'afile/x' "lora merge --output under a file" -- "$HF" lora merge --model m --adapter sft/final_model --output afile/x

# ---------------------------------------------------------------- bad flag values
g=(generate --model m --prompt hi --max-new-tokens 2)
bad -- '--num-samples' "generate -n -1" -- "$HF" "${g[@]}" -n -1
bad -- '--num-samples' "generate -n 0" -- "$HF" "${g[@]}" -n 0
bad -- '--temperature' "generate --temperature -0.5" -- "$HF" "${g[@]}" --temperature -0.5
bad -- '--temperature' "generate --temperature nan" -- "$HF" "${g[@]}" --temperature nan
bad -- '--top-p' "generate --top-p 1.5" -- "$HF" "${g[@]}" --top-p 1.5
bad -- '--max-new-tokens' "generate --max-new-tokens 1000000000" -- "$HF" generate --model m --prompt hi --max-new-tokens 1000000000
bad -- '--max-new-tokens' "generate --max-new-tokens -5" -- "$HF" generate --model m --prompt hi --max-new-tokens -5
bad -- '--batch-size' "generate --batch-size -1" -- "$HF" "${g[@]}" --batch-size -1
bad -- '--seed' "generate --seed x" -- "$HF" "${g[@]}" --seed x
bad -- '--num-samples' "generate -n 99999999999999999999" -- "$HF" "${g[@]}" -n 99999999999999999999
r=(raft train --model m --prompts prompts.jsonl --output rf --samples-per-prompt 1 --max-new-tokens 2)
bad -- '--cycles' "raft train --cycles 0" -- "$HF" "${r[@]}" --cycles 0
bad -- '--cycles' "raft train --cycles -1" -- "$HF" "${r[@]}" --cycles -1
bad -- '--samples-per-prompt' "raft train --samples-per-prompt 0" -- "$HF" raft train --model m --prompts prompts.jsonl --output rf --samples-per-prompt 0
bad -- '--temperature' "raft train --temperature -1" -- "$HF" "${r[@]}" --temperature -1
bad -- '--learning-rate' "raft train --learning-rate -1" -- "$HF" "${r[@]}" --learning-rate -1
bad -- '--keep-percent' "raft train --keep-percent 150" -- "$HF" "${r[@]}" --keep-percent 150
bad -- '--workers' "raft train --workers -2" -- "$HF" "${r[@]}" --workers -2
bad -- '--lora-rank' "raft train --lora-rank 0" -- "$HF" "${r[@]}" --lora-rank 0
bad -- '--max-new-tokens' "raft train --max-new-tokens 1000000000" -- "$HF" raft train --model m --prompts prompts.jsonl --output rf --max-new-tokens 1000000000
absent rf "bad raft flags leave no output folder"
bad -- '--epochs' "sft train --epochs 0" -- "$HF" sft train --model m --data data.jsonl --output sf --epochs 0
bad -- '--batch-size' "sft train --batch-size -4" -- "$HF" sft train --model m --data data.jsonl --output sf --batch-size -4
bad -- '--learning-rate' "sft train --learning-rate inf" -- "$HF" sft train --model m --data data.jsonl --output sf --learning-rate inf
bad -- '--max-seq-length' "sft train --max-seq-length 0" -- "$HF" sft train --model m --data data.jsonl --output sf --max-seq-length 0
absent sf "bad sft flags leave no output folder"
bad -- '--cycles' "benchmark full --cycles -1" -- "$HF" benchmark full --model m --prompts prompts.jsonl --output bf --cycles -1
bad -- '--samples-per-prompt' "benchmark full --samples-per-prompt 0" -- "$HF" benchmark full --model m --prompts prompts.jsonl --output bf --samples-per-prompt 0
absent bf "bad benchmark flags leave no output folder"
bad -- '--samples' "benchmark run --samples 0" -- "$HF" benchmark run --model m --prompts prompts.jsonl --samples 0 --output b.json
bad -- '--k' "benchmark run --k 0" -- "$HF" benchmark run --model m --prompts prompts.jsonl --samples 2 --k 0 --output b.json
bad -- '--timeout' "verify --timeout -1" -- "$HF" verify --verifier gcc --input samples.jsonl --timeout -1
bad -- '--workers' "verify --workers 0" -- "$HF" verify --verifier gcc --input samples.jsonl --workers 0
bad -- '--count' "data synth --count -1" -- "$HF" data synth --count -1 --output ds.jsonl
bad -- '--vocab-size' "tokenizer train --vocab-size 3" -- "$HF" tokenizer train --data data.jsonl --vocab-size 3 --output tk
bad -- '--preset' "model init --preset huge" -- "$HF" model init --preset huge --output mi
bad 'org/does-not-exist' "a Hub id that is not in the cache, offline" -- "$HF" generate --model org/does-not-exist --prompt hi
bad 'not-a-folder-nor-id' "a model that is neither a folder nor an id" -- "$HF" generate --model ./not-a-folder-nor-id --prompt hi
bad 'org/does-not-exist' "model download offline" -- "$HF" model download org/does-not-exist
bad -- '--level' "test --level extreme" -- "$HF" test --level extreme
for c in "config validate" "model init" "model download" info "tokenizer train" tokenize score generate "data synth" \
         "sft train" "lora merge" "raft train" verify "benchmark full" "benchmark run" "benchmark eval" "benchmark score" test; do
    # shellcheck disable=SC2086  # the command's words are separate arguments
    bad -- '--nope' "$c: an unknown flag" -- "$HF" $c --nope
done
bad 'nosuch' "an unknown command" -- "$HF" nosuch
bad 'nosuch' "an unknown subcommand" -- "$HF" raft nosuch
bad -- '--model' "a flag without its value" -- "$HF" generate --model
finish
