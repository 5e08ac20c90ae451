#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/ (small, valid or nearly valid inputs of each parser).
Test-only; run from the repository root: python3 tests/fuzz/make-seeds.py. The output is committed."""
import json, os, struct

SEP = b"\n--8<--\n"
ROOT = "tests/fuzz/corpus"


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors(tensors, meta=None):
    header, blob = {}, b""
    if meta is not None:
        header["__metadata__"] = meta
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def read(p):
    with open(p, "rb") as f:
        return f.read()


# safetensors
f32 = struct.pack("<4f", 1, 2, 3, 4)
put("safetensors", "f32_2x2", safetensors([("w", "F32", [2, 2], f32)], {"format": "pt"}))
put("safetensors", "mixed", safetensors([("a.weight", "BF16", [3], b"\x80\x3f" * 3), ("b", "F16", [1, 2], b"\x00\x3c" * 2),
                                          ("scalar", "F32", [], struct.pack("<f", 7)), ("empty", "F32", [0, 4], b"")]))
put("safetensors", "misaligned", safetensors([("x", "BF16", [1], b"\x00\x00"), ("y", "F32", [1], struct.pack("<f", 1))]))

# config.json / generation_config.json
tiny = "models/tiny-coder"
put("config", "tiny_coder", read(f"{tiny}/config.json") + SEP + read(f"{tiny}/generation_config.json"))
put("config", "llama", read("tests/fixtures/model/llama_untied_f32/config.json"))
put("config", "qwen_eos_list", json.dumps({"architectures": ["Qwen2ForCausalLM"], "vocab_size": 300, "hidden_size": 32,
    "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
    "max_position_embeddings": 128, "rope_theta": 1e6, "rms_norm_eps": 1e-6, "tie_word_embeddings": True,
    "eos_token_id": [1, 2], "bos_token_id": None}) + SEP.decode() + '{"eos_token_id": [2, 3], "bos_token_id": 0}')

# tokenizer.json + text + ids
tok = json.dumps({
    "version": "1.0", "added_tokens": [{"id": 6, "content": "<|im_end|>", "special": True, "normalized": False,
                                          "single_word": False, "lstrip": False, "rstrip": False}],
    "normalizer": None,
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+|\\s+"}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
              "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
              "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4, "c": 5}, "merges": ["a b", "Ġ ab"]}})
put("tokenizer", "small_bpe", tok + "\n--8<--\nab ab<|im_end|>c\n--8<--\n\x00\x00\x00\x00\x02\x00\x00\x00")
put("tokenizer", "tiny_coder_head", json.dumps(
    {"model": {"type": "BPE", "vocab": {"x": 0, "y": 1, "xy": 2}, "merges": [["x", "y"]]},
     "normalizer": {"type": "NFC"}, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": True, "use_regex": True},
     "added_tokens": []}).encode() + SEP + "xy yx é".encode())

# chat templates
put("chat", "chatml", read(f"{tiny}/tokenizer_config.json") + SEP + b"system\nYou are helpful." + SEP + b"user\nWrite hello" +
    SEP + b"assistant\n```c\nint main(){}\n```")
put("chat", "llama3", json.dumps({"chat_template": "{{ '<|begin_of_text|>' }}{% for m in messages %}<|start_header_id|>"
                                                   "{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}"})
    + "\n--8<--\nuser\n  hi  \n--8<--\nassistant\n")

# JSONL readers: the first byte picks the reader (see fuzz_jsonl.c)
samples = read("examples/samples.jsonl")
verified = (json.dumps({"prompt_id": "p1", "prompt": "Say hi", "completion": "```c\nint main(){return 0;}\n```", "sample_idx": 0,
                        "status": "success", "reward": 1.0, "compiled": True, "ran": True, "stdout": "hi", "warnings": False})
            + "\n" + json.dumps({"status": "compile_error", "reward": 0}) + "\nnot json\n[1,2]\n")
put("jsonl", "0_samples", b"\x00" + samples[:1500])
put("jsonl", "0_verified", b"\x00" + verified.encode())
sft = "\n".join([json.dumps({"text": "int main() { return 0; }"}),
                 json.dumps({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
                                           {"role": "assistant", "content": "hello"}]}),
                 json.dumps({"prompt": "Add", "completion": "a+b", "system": "math"}),
                 json.dumps({"instruction": "Sort", "input": "3 1 2", "output": "1 2 3"}),
                 json.dumps({"prompt": 5}), "{", ""])
put("jsonl", "1_sft", b"\x01" + sft.encode())
put("jsonl", "1_sft_llama", b"\x21" + sft.encode())
put("jsonl", "2_prompts", b"\x02" + read("tests/fixtures/bench/humaneval_mini.jsonl")[:700] + b"\n" +
    json.dumps({"id": "c1", "prompt": "Print 1", "expected_output": "1", "language": "c", "tests": [{"stdin": "", "expected_output": "1"}]}).encode())
put("jsonl", "3_statistics", b"\x03" + json.dumps([{"cycle": 1, "kept": 3, "success_rate": 0.5}, {"cycle": 2}]).encode())
put("jsonl", "4_curriculum", b"\x04" + json.dumps({"strategy": "historical", "difficulty": 0.5, "updated_cycle": 1, "prompt_stats": [
    {"prompt": "Sort an array", "success_rate": 0.25, "attempts": 4, "successes": 1, "complexity": 0.3}]}).encode())
put("jsonl", "5_journal", b"\x05" + (json.dumps({"prompt_id": "a", "prompt": "x", "completion": "y", "sample_idx": 0,
                                                  "n_tokens": 3, "finish_reason": "eos"}) + "\n{\"prompt_id\": \"a\", \"sam").encode())
put("jsonl", "6_corpus", b"\x06" + sft.encode())

# YAML config, command line, model settings
put("yaml", "raft_config", "model:\n  name: models/tiny-coder\nraft:\n  cycles: 3\ntraining:\n  learning_rate: 5e-5\n  lora: yes\n"
    "lora:\n  target_modules: [q_proj, k_proj, v_proj]\nverifier: gcc\nextra:\n  key: ~\n"
    "\n--8<--\n--cycles\n7\n-t\n0.5\n--target-modules=q_proj,o_proj\nfile.txt\n--8<--\n" + read(f"{tiny}/halo-forge.yaml").decode())
put("yaml", "flow_and_anchors", "base: &b {learning_rate: 1e-3, cycles: 2}\ntraining: *b\nlist:\n  - a\n  - b\n"
    "str: \"quoted: value\"\nmulti: |\n  line1\n  line2\n\n--8<--\n--lora\n--no-lora\n--help\n")

# LoRA adapter folders are written by tests/fuzz/make-seeds.sh's sft run (adapter/), not here.

# code extraction
put("extract", "fenced_cpp", read("examples/samples.jsonl").decode().split("\n")[0])
put("extract", "mixed", "Here:\n```python\nprint(1)\n```\nand\n```\n#include <stdio.h>\nint main(){puts(\"x\");}\n```\n")
put("extract", "bare_main", "Sure. #include <stdio.h>\nint main(void) {\n  printf(\"%d\", 1);\n  return 0;\n}\ntrailing text")
put("extract", "code_tag", "<code>fn main() { println!(\"hi\"); }</code>")

# Hub responses: revision info, HEAD config.json, HEAD model.safetensors, GET config.json, GET model.safetensors
sha = "0123456789abcdef0123456789abcdef01234567"
cfg = read("tests/fixtures/model/gqa1_tied_f32/config.json")
st = safetensors([("w", "F32", [1], struct.pack("<f", 1))])
def resp(status, headers, body=b""):
    h = "".join(f"{k}: {v}\r\n" for k, v in headers)
    return f"HTTP/1.1 {status}\r\n{h}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
info = json.dumps({"id": "org/model", "sha": sha, "siblings": [{"rfilename": "config.json"}, {"rfilename": "model.safetensors"}]}).encode()
parts = [resp("200 OK", [("Content-Type", "application/json")], info),
         resp("200 OK", [("ETag", '"cfgetag1"'), ("X-Repo-Commit", sha)], b""),
         resp("302 Found", [("Location", "/cdn/model"), ("X-Linked-Etag", '"stetag1"'), ("X-Linked-Size", str(len(st))),
                            ("X-Repo-Commit", sha)]),
         resp("200 OK", [("ETag", '"cfgetag1"')], cfg),
         resp("200 OK", [], st)]
put("hub", "download", SEP.join(parts))
put("hub", "not_found", resp("404 Not Found", [("X-Error-Code", "RepoNotFound")], b'{"error":"Repository not found"}'))
put("hub", "retry_after", resp("429 Too Many Requests", [("Retry-After", "0")]) + SEP + resp("200 OK", [], b'{"sha": 1}'))

# LoRA adapter folders: a real one trained by halo-forge on the tiny preset (the fuzz target applies
# adapters to a tiny-preset model), then variants. Needs the built program: HF_BIN=build/halo-forge.
import shutil, subprocess, tempfile
hf = os.environ.get("HF_BIN")
if hf:
    with tempfile.TemporaryDirectory() as tmp:
        run = lambda *a: subprocess.run([hf, "-q", *a], cwd=tmp, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        run("model", "init", "--preset", "tiny", "--seed", "1", "--output", "m")
        with open(os.path.join(tmp, "d.jsonl"), "w") as f:
            for i in range(8):
                f.write(json.dumps({"text": f"int main() {{ return {i}; }}"}) + "\n")
        run("sft", "train", "--model", "m", "--data", "d.jsonl", "--output", "ad", "--max-steps", "2", "--lora-rank", "2",
            "--target-modules", "q_proj,v_proj")
        cfg = json.load(open(os.path.join(tmp, "ad/final_model/adapter_config.json")))
        w = read(os.path.join(tmp, "ad/final_model/adapter_model.safetensors"))
        put("adapter", "q_v_rank2", json.dumps(cfg).encode() + SEP + w)
        cfg2 = dict(cfg, base_model_name_or_path="Qwen/Qwen2.5-Coder-0.5B", use_rslora=True, target_modules="q_proj|v_proj")
        put("adapter", "hub_base_rslora", json.dumps(cfg2).encode() + SEP + w)
        cfg3 = dict(cfg, r=4, lora_alpha=8, base_model_name_or_path="/nonexistent/base")
        put("adapter", "rank_mismatch", json.dumps(cfg3).encode() + SEP + w)

# gguf: v3, header, kv (string, u32, string array), tensor infos, data aligned to 32
def gstr(s):
    s = s.encode()
    return struct.pack("<Q", len(s)) + s


def gguf(kvs, tensors, align=32):
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, typ, val in kvs:
        out += gstr(k) + struct.pack("<I", typ) + val
    blob, infos = b"", b""
    for name, ggtype, ne, data in tensors:
        blob += b"\0" * (-len(blob) % align)
        infos += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        infos += struct.pack("<IQ", ggtype, len(blob))
        blob += data
    out += infos
    out += b"\0" * (-len(out) % align)
    return out + blob


arch = ("general.architecture", 8, gstr("llama"))
toks = ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 2) + gstr("a") + gstr("b"))
put("gguf", "f32_2x2", gguf([arch, ("general.alignment", 4, struct.pack("<I", 32))], [("w", 0, [2, 2], struct.pack("<4f", 1, 2, 3, 4))]))
put("gguf", "two_tensors_tokens", gguf([arch, toks], [("a", 0, [3], struct.pack("<3f", 1, 2, 3)), ("b", 1, [1, 2], b"\x00\x3c" * 2)]))

# Dataset viewer answers for `data prepare` (fuzz_viewer): part 0 the registry name, then /splits and
# the /rows pages in the order asked for.
def vpage(rows, total=None, offset=0):
    feats = [{"feature_idx": i, "name": k, "type": {"dtype": "string", "_type": "Value"}} for i, k in enumerate(rows[0])] if rows else []
    return json.dumps({"features": feats, "rows": [{"row_idx": offset + i, "row": r, "truncated_cells": []} for i, r in enumerate(rows)],
                       "num_rows_total": len(rows) if total is None else total, "num_rows_per_page": 100, "partial": False}).encode()
def vsplits(ds, config, split):
    return json.dumps({"splits": [{"dataset": ds, "config": config, "split": split}], "pending": [], "failed": []}).encode()
he = [{"task_id": f"HumanEval/{i}", "prompt": f"def f{i}(x):\n    \"\"\"Return x + {i}.\"\"\"\n",
       "canonical_solution": f"    return x + {i}\n", "test": f"def check(candidate):\n    assert candidate(1) == {i + 1}\n",
       "entry_point": f"f{i}"} for i in range(4)]
ok = lambda body: resp("200 OK", [("Content-Type", "application/json")], body)
put("viewer", "humaneval", b"humaneval" + SEP + ok(vsplits("openai/openai_humaneval", "openai_humaneval", "test")) + SEP + ok(vpage(he)))
mb = [{"task_id": 11 + i, "text": f"Write a function to add {i}.", "code": f"def add_{i}(x):\r\n    return x + {i}",
       "test_list": [f"assert add_{i}(1) == {i + 1}"], "test_setup_code": "", "challenge_test_list": []} for i in range(3)]
put("viewer", "mbpp", b"mbpp" + SEP + ok(vpage(mb)))
cf = [{"id": f"{1000 + i}/A", "contest_id": str(1000 + i), "index": "A", "title": "Sum", "description": "Print a + b.",
       "input_format": "a b", "output_format": "a + b", "examples": [{"input": "1 2\n", "output": "3\n"}], "rating": 800,
       "tags": ["math"], "prompt": "Given a and b, print a + b. Write C++ in a ```cpp block.",
       "generation": "<think>\nAdd.\n</think>\n\n```cpp\n#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b;}\n```"}
      for i in range(3)]
put("viewer", "codeforces_paged", b"codeforces_cpp" + SEP +  # its config is fixed: no /splits request
    ok(vpage(cf, total=250)) + SEP + ok(vpage(cf, total=250, offset=100)) + SEP + ok(vpage(cf[:1], total=250, offset=200)))
put("viewer", "busy_then_gated", b"livecodebench" + SEP + resp("503 Service Unavailable", [], b'{"error": "busy"}') + SEP +
    resp("401 Unauthorized", [], b'{"error": "The dataset is gated"}'))

# LLM API answers for `data generate` (fuzz_llm): part 0 the backend, part 1 a journal left by a killed run.
def oai(text):
    return ok(json.dumps({"id": "c1", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                                                                  "finish_reason": "stop"}]}).encode())
def claude(text):
    return ok(json.dumps({"id": "m1", "type": "message", "content": [{"type": "text", "text": text}], "stop_reason": "end_turn"}).encode())
code = "```cpp\n#include <iostream>\nint main() { std::cout << 42 << std::endl; }\n```"
put("llm", "openai_two", b"openai" + SEP + b"" + SEP + SEP.join([oai("Sort a list of ints."), oai(code), oai("Reverse a string."), oai(code)]))
put("llm", "anthropic_two", b"anthropic" + SEP + b"" + SEP + SEP.join([claude("Find a max."), claude(code), claude("Count words."), claude(code)]))
journal = json.dumps({"slot": 0, "kept": True, "record": {"id": "cpp_algorithms_00001", "prompt": "p", "completion": code}})
put("llm", "resume_one", b"openai" + SEP + journal.encode() + b"\n{\"slot\": 1, \"ke" + SEP + oai("Merge two lists.") + SEP + oai(code))
put("llm", "rate_limited", b"openai" + SEP + b"" + SEP + resp("429 Too Many Requests", [("Retry-After", "30")], b'{"error": {"message": "slow down"}}')
    + SEP + oai("Sum an array.") + SEP + resp("401 Unauthorized", [], b'{"error": {"message": "bad key"}}'))
