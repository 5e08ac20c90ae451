#!/usr/bin/env python3
"""A stand-in for the Hugging Face dataset viewer (datasets-server), for the tests of `data prepare`
(test-only, standard library only).

It serves datasets from a folder laid out as ROOT/ORG/NAME/CONFIG/SPLIT.jsonl with the real API's URLs and
answers:
  GET /splits?dataset=ORG/NAME  -> {"splits": [{"dataset", "config", "split"}], "pending": [], "failed": []}
  GET /rows?dataset=&config=&split=&offset=&length=
        -> {"features": [{"feature_idx", "name", "type"}], "rows": [{"row_idx", "row", "truncated_cells"}],
            "num_rows_total", "num_rows_per_page", "partial": false}
        length above 100 -> 422; unknown dataset/config/split -> 404 {"error": ...}.
Test controls (not part of the API): GET /_test/set?token=T&fail=N&rate=N&ra=S sets a required Bearer token
(401 without it), answers 503 to the next N /rows requests, or 429 with "Retry-After: S" to the next N;
/_test/reset clears them. Every request is logged to --log as "GET PATH?QUERY STATUS".

Usage: datasets_server.py --root DIR --log FILE [--lifetime S]   (prints "PORT" on stdout)
       datasets_server.py --make-fixture DIR                      (writes the test datasets)
"""
import argparse
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse


def dtype_of(v):
    if isinstance(v, bool):
        return {"dtype": "bool", "_type": "Value"}
    if isinstance(v, int):
        return {"dtype": "int64", "_type": "Value"}
    if isinstance(v, float):
        return {"dtype": "float64", "_type": "Value"}
    if isinstance(v, list):
        return {"feature": dtype_of(v[0]) if v else {"dtype": "string", "_type": "Value"}, "_type": "Sequence"}
    if isinstance(v, dict):
        return {k: dtype_of(x) for k, x in v.items()}
    return {"dtype": "string", "_type": "Value"}


class State:
    def __init__(self):
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        self.token = None
        self.fail = 0
        self.rate = 0
        self.retry_after = "1"


def make_handler(root, state, logf):
    cache = {}

    def load(ds, config, split):
        path = os.path.join(root, ds, config, split + ".jsonl")
        if not os.path.isfile(path):
            return None
        if path not in cache:
            with open(path) as f:
                cache[path] = [json.loads(l) for l in f if l.strip()]
        return cache[path]

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, status, obj, headers=None):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
            with state.lock:
                logf.write(f"GET {self.path} {status}\n")
                logf.flush()

        def do_GET(self):
            u = urllib.parse.urlparse(self.path)
            q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()}
            if u.path == "/_test/set":
                with state.lock:
                    if "token" in q:
                        state.token = q["token"]
                    state.fail = int(q.get("fail", state.fail))
                    state.rate = int(q.get("rate", state.rate))
                    state.retry_after = q.get("ra", state.retry_after)
                return self.send(200, {"ok": True})
            if u.path == "/_test/reset":
                with state.lock:
                    state.reset()
                return self.send(200, {"ok": True})
            with state.lock:
                token = state.token
            if token and self.headers.get("Authorization") != f"Bearer {token}":
                return self.send(401, {"error": "The dataset does not exist, or is not accessible without authentication (private or gated). Please check the spelling of the dataset name or retry with authentication."})
            ds = q.get("dataset", "")
            if u.path == "/splits":
                base = os.path.join(root, ds)
                if not ds or ".." in ds or not os.path.isdir(base):
                    return self.send(404, {"error": "The dataset does not exist, or is not accessible without authentication (private or gated). Please check the spelling of the dataset name or retry with authentication."})
                splits = []
                for config in sorted(os.listdir(base)):
                    for fn in sorted(os.listdir(os.path.join(base, config))):
                        if fn.endswith(".jsonl"):
                            splits.append({"dataset": ds, "config": config, "split": fn[:-6]})
                return self.send(200, {"splits": splits, "pending": [], "failed": []})
            if u.path == "/rows":
                with state.lock:
                    if state.fail > 0:
                        state.fail -= 1
                        return self.send(503, {"error": "The server is busy."})
                    if state.rate > 0:
                        state.rate -= 1
                        return self.send(429, {"error": "Too many requests."}, {"Retry-After": state.retry_after})
                try:
                    offset = int(q.get("offset", "0"))
                    length = int(q.get("length", "100"))
                except ValueError:
                    return self.send(422, {"error": "Parameters 'offset' and 'length' must be integers"})
                if length > 100 or length < 0 or offset < 0:
                    return self.send(422, {"error": "Parameter 'length' must not be greater than 100"})
                if ".." in ds or ".." in q.get("config", "") or ".." in q.get("split", ""):
                    return self.send(404, {"error": "Not found."})
                rows = load(ds, q.get("config", ""), q.get("split", ""))
                if rows is None:
                    return self.send(404, {"error": "The dataset does not exist, or is not accessible without authentication (private or gated). Please check the spelling of the dataset name or retry with authentication."})
                page = rows[offset:offset + length]
                feats = [{"feature_idx": i, "name": k, "type": dtype_of(v)} for i, (k, v) in enumerate(rows[0].items())] if rows else []
                return self.send(200, {"features": feats,
                                       "rows": [{"row_idx": offset + i, "row": r, "truncated_cells": []} for i, r in enumerate(page)],
                                       "num_rows_total": len(rows), "num_rows_per_page": 100, "partial": False})
            return self.send(404, {"error": "Not found."})

    return H


# ---------------------------------------------------------------- fixtures

CF_TASKS = [
    # (title, statement, input, output, cases(list of (in, out)), C++ solution)
    ("Sum of Two", "Given two integers a and b, print their sum.", "One line with a and b ({lo} <= a, b <= {hi}).",
     "Print a + b.", lambda k: [(f"{k} {k+3}\n", f"{2*k+3}\n"), (f"-{k} {k}\n", "0\n")],
     "#include <iostream>\nint main() {\n    long long a, b;\n    std::cin >> a >> b;\n    std::cout << a + b << std::endl;\n    return 0;\n}\n"),
    ("Maximum", "Given n integers, print the largest one.", "The first line has n; the second has n integers.",
     "Print the maximum.", lambda k: [(f"3\n{k} {k+5} 2\n", f"{k+5}\n"), ("1\n-7\n", "-7\n")],
     "#include <iostream>\nint main() {\n    int n;\n    std::cin >> n;\n    long long best = 0;\n    for (int i = 0; i < n; i++) {\n        long long x;\n        std::cin >> x;\n        if (i == 0 || x > best) best = x;\n    }\n    std::cout << best << std::endl;\n    return 0;\n}\n"),
    ("Reverse", "Given a word, print it reversed.", "One word of lowercase letters.", "The word reversed.",
     lambda k: [("abc" + "x" * (k % 4) + "\n", ("x" * (k % 4) + "cba") + "\n"), ("z\n", "z\n")],
     "#include <iostream>\n#include <string>\n#include <algorithm>\nint main() {\n    std::string s;\n    std::cin >> s;\n    std::reverse(s.begin(), s.end());\n    std::cout << s << std::endl;\n    return 0;\n}\n"),
    ("Even Count", "Given n integers, print how many of them are even.", "n, then n integers.", "The count.",
     lambda k: [(f"4\n1 2 {k*2} 5\n", "2\n"), ("2\n1 3\n", "0\n")],
     "#include <cstdio>\nint main() {\n    int n, c = 0;\n    if (scanf(\"%d\", &n) != 1) return 0;\n    for (int i = 0; i < n; i++) {\n        long long x;\n        scanf(\"%lld\", &x);\n        if (x % 2 == 0) c++;\n    }\n    printf(\"%d\\n\", c);\n    return 0;\n}\n"),
]

RUST_SOL = "use std::io::Read;\nfn main() {\n    let mut s = String::new();\n    std::io::stdin().read_to_string(&mut s).unwrap();\n    let v: Vec<i64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();\n    println!(\"{}\", v[0] + v[1]);\n}\n"


def codeforces_rows():
    rows = []
    n = 0
    for k in range(1, 61):
        for t, (title, stmt, inp, outp, cases, sol) in enumerate(CF_TASKS):
            n += 1
            cid = 1000 + k
            idx = "ABCD"[t]
            ex = [{"input": a, "output": b} for a, b in cases(k)]
            prompt = (f"You will be given a competitive programming problem.\n\n# Problem\n{title}\n\n{stmt}\n\n"
                      f"## Input Format\n{inp.format(lo=-k * 10, hi=k * 10)}\n\n## Output Format\n{outp}\n\n"
                      f"## Examples\n```input\n{ex[0]['input']}```\n```output\n{ex[0]['output']}```\n\n"
                      "Write a C++17 solution; put it in a single ```cpp block.")
            rows.append({"id": f"{cid}/{idx}", "contest_id": str(cid), "index": idx, "title": title,
                         "description": stmt, "input_format": inp, "output_format": outp, "examples": ex,
                         "rating": 800 + 100 * ((k + t) % 16), "tags": [["math", "implementation", "strings", "greedy"][t]],
                         "prompt": prompt,
                         "generation": f"<think>\nRead the input and compute the answer directly.\n</think>\n\n```cpp\n{sol}```"})
    # a second generation of the first problem (the real set has several per problem)
    dup = dict(rows[0])
    dup["generation"] = dup["generation"].replace("Read the input", "Just read the input")
    rows.insert(5, dup)
    # Rust solutions of a few problems
    for k in range(1, 4):
        rows.append({"id": f"{2000 + k}/A", "contest_id": str(2000 + k), "index": "A", "title": "Sum of Two",
                     "description": "Print a + b.", "input_format": "a and b", "output_format": "a + b",
                     "examples": [{"input": f"{k} 2\n", "output": f"{k + 2}\n"}], "rating": 800, "tags": ["math"],
                     "prompt": "Given a and b, print a + b. Write a Rust solution in a ```rust block.",
                     "generation": f"<think>\nAdd them.\n</think>\n\n```rust\n{RUST_SOL}```"})
    # a row with no prompt at all (skipped)
    rows.append({"id": "9999/Z", "title": "", "description": "", "prompt": "", "generation": "", "examples": []})
    return rows


def codeforces_py_rows():
    rows = []
    for k in range(1, 6):
        rows.append({"id": f"{3000 + k}/A", "title": "Sum of Two", "prompt": f"Print the sum of two integers (#{k}).",
                     "examples": [{"input": f"{k} {k}\n", "output": f"{2 * k}\n"}], "rating": 800, "tags": ["math"],
                     "generation": "<think>\nsum\n</think>\n\n```python\na, b = map(int, input().split())\nprint(a + b)\n```"})
    return rows


HUMANEVAL = [
    ("def add(x: int, y: int) -> int:\n    \"\"\"Add two numbers x and y\n    >>> add(2, 3)\n    5\n    \"\"\"\n",
     "    return x + y\n",
     "\n\nMETADATA = {}\n\n\ndef check(candidate):\n    assert candidate(0, 1) == 1\n    assert candidate(5, 7) == 12\n    assert candidate(-3, 3) == 0\n",
     "add"),
    ("from typing import List\n\n\ndef running_max(numbers: List[int]) -> List[int]:\n    \"\"\"The largest element seen so far at each position.\n    >>> running_max([1, 3, 2, 5])\n    [1, 3, 3, 5]\n    \"\"\"\n",
     "    out = []\n    best = None\n    for n in numbers:\n        best = n if best is None else max(best, n)\n        out.append(best)\n    return out\n",
     "\n\ndef check(candidate):\n    assert candidate([]) == []\n    assert candidate([1, 3, 2, 5]) == [1, 3, 3, 5]\n    assert candidate([4, 3, 2]) == [4, 4, 4]\n",
     "running_max"),
    ("def encode_shift(s: str):\n    \"\"\"\n    returns s with every letter shifted by 5 in the alphabet.\n    \"\"\"\n    return \"\".join([chr(((ord(ch) + 5 - ord(\"a\")) % 26) + ord(\"a\")) for ch in s])\n\n\ndef decode_shift(s: str):\n    \"\"\"\n    takes a string encoded with encode_shift and returns the decoded string.\n    \"\"\"\n",
     "    return \"\".join([chr(((ord(ch) - 5 - ord(\"a\")) % 26) + ord(\"a\")) for ch in s])\n",
     "\n\ndef check(candidate):\n    for w in ['abc', 'hello', 'xyz']:\n        assert candidate(encode_shift(w)) == w\n",
     "decode_shift"),
    ("def is_palindrome(text: str) -> bool:\n    \"\"\"True when text reads the same both ways.\n    >>> is_palindrome('aba')\n    True\n    \"\"\"\n",
     "    return text == text[::-1]\n",
     "\n\ndef check(candidate):\n    assert candidate('') == True\n    assert candidate('aba') == True\n    assert candidate('ab') == False\n",
     "is_palindrome"),
    ("import math\n\n\ndef hypotenuse(a: float, b: float) -> float:\n    \"\"\"Length of the hypotenuse of a right triangle with legs a and b.\n    >>> hypotenuse(3, 4)\n    5.0\n    \"\"\"\n",
     "    return math.sqrt(a * a + b * b)\n",
     "\n\ndef check(candidate):\n    assert abs(candidate(3, 4) - 5.0) < 1e-9\n    assert abs(candidate(5, 12) - 13.0) < 1e-9\n",
     "hypotenuse"),
    ("def count_upper(s):\n    \"\"\"Count the upper-case letters of s.\n    >>> count_upper('aBcD')\n    2\n    \"\"\"\n",
     "    count = 0\n    for ch in s:\n        if ch.isupper():\n            count += 1\n    return count\n",
     "\n\ndef check(candidate):\n    assert candidate('aBcD') == 2\n    assert candidate('') == 0\n    assert candidate('ABC') == 3\n",
     "count_upper"),
]

MBPP = [
    (11, "Write a python function to remove first and last occurrence of a given character from the string.",
     "def remove_Occ(s,ch): \r\n    for i in range(len(s)): \r\n        if (s[i] == ch): \r\n            s = s[0 : i] + s[i + 1:] \r\n            break\r\n    for i in range(len(s) - 1,-1,-1):  \r\n        if (s[i] == ch): \r\n            s = s[0 : i] + s[i + 1:] \r\n            break\r\n    return s ",
     ["assert remove_Occ(\"hello\",\"l\") == \"heo\"", "assert remove_Occ(\"abcda\",\"a\") == \"bcd\"", "assert remove_Occ(\"PHP\",\"P\") == \"H\""],
     "", ["assert remove_Occ(\"hellolloll\",\"l\") == \"helollol\"", "assert remove_Occ(\"\",\"l\") == \"\""]),
    (12, "Write a function to sort a given matrix in ascending order according to the sum of its rows.",
     "def sort_matrix(M):\r\n    result = sorted(M, key=sum)\r\n    return result",
     ["assert sort_matrix([[1, 2, 3], [2, 4, 5], [1, 1, 1]])==[[1, 1, 1], [1, 2, 3], [2, 4, 5]]",
      "assert sort_matrix([[5,8,9],[6,4,3],[2,1,4]])==[[2, 1, 4], [6, 4, 3], [5, 8, 9]]"], "", []),
    (13, "Write a function to find the most common words in a dictionary.",
     "from collections import Counter\r\ndef count_common(words):\r\n  word_counts = Counter(words)\r\n  top_four = word_counts.most_common(4)\r\n  return (top_four)\r\n",
     ["assert count_common(['red','green','black','pink','black','white','black','eyes','white','black','orange','pink','pink','red','red','white','orange','white',\"black\",'pink','green','green','pink','green','pink','white','orange',\"orange\",'red']) == [('pink', 6), ('black', 5), ('white', 5), ('red', 4)]"], "", []),
    (14, "Write a python function to find the volume of a triangular prism.",
     "def find_Volume(l,b,h) : \r\n    return ((l * b * h) / 2) ",
     ["assert find_Volume(10,8,6) == 240", "assert find_Volume(3,2,2) == 6", "assert find_Volume(1,2,1) == 1"], "", []),
    (15, "Write a function to check the square root with the math module.",
     "def root_of(x):\r\n    return math.sqrt(x)",
     ["assert root_of(16) == 4.0", "assert root_of(2.25) == 1.5"], "import math", []),
]


def write_jsonl(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def make_fixture(d):
    write_jsonl(os.path.join(d, "open-r1/codeforces-cots/solutions/train.jsonl"), codeforces_rows())
    write_jsonl(os.path.join(d, "open-r1/codeforces-cots/solutions_py/train.jsonl"), codeforces_py_rows())
    write_jsonl(os.path.join(d, "openai/openai_humaneval/openai_humaneval/test.jsonl"),
                [{"task_id": f"HumanEval/{i}", "prompt": p, "canonical_solution": s, "test": t, "entry_point": e}
                 for i, (p, s, t, e) in enumerate(HUMANEVAL)])
    write_jsonl(os.path.join(d, "evalplus/humanevalplus/default/test.jsonl"),
                [{"task_id": f"HumanEval/{i}", "prompt": p, "canonical_solution": s, "entry_point": e,
                  "test": t + "    assert candidate(*[1, 1]) is not None\n" if i == 0 else t}
                 for i, (p, s, t, e) in enumerate(HUMANEVAL[:3])])
    mb = [{"task_id": i, "text": t, "code": c, "test_list": tl, "test_setup_code": su, "challenge_test_list": ch}
          for i, t, c, tl, su, ch in MBPP]
    write_jsonl(os.path.join(d, "google-research-datasets/mbpp/full/train.jsonl"), mb)
    write_jsonl(os.path.join(d, "google-research-datasets/mbpp/full/test.jsonl"), mb[:2])
    write_jsonl(os.path.join(d, "evalplus/mbppplus/default/test.jsonl"),
                [{"task_id": i, "code": c.replace("\r\n", "\n"), "prompt": t, "source_file": "x", "test_imports": [su] if su else [],
                  "test_list": tl,
                  "test": "inputs = [" + ", ".join(x[x.index("(") + 1:x.rindex(")", 0, x.index("=="))] and "[" + x[x.index("(") + 1:x.rindex(")", 0, x.index("=="))] + "]" for x in tl) + "]\n"
                          "results = [" + ", ".join(x[x.index("==") + 2:].strip() for x in tl) + "]\n"
                          f"for inp, exp in zip(inputs, results):\n    assert {tl[0][7:tl[0].index('(')]}(*inp) == exp\n"}
                 for i, t, c, tl, su, ch in MBPP if i in (12, 14)])
    write_jsonl(os.path.join(d, "livecodebench/code_generation_lite/release_v1/test.jsonl"), [
        {"question_title": "Add", "question_content": "Read two integers and print their sum.", "platform": "atcoder",
         "question_id": "abc001_a", "contest_id": "abc001", "contest_date": "2023-05-01T00:00:00", "starter_code": "",
         "difficulty": "easy", "public_test_cases": json.dumps([{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]),
         "private_test_cases": "eJwDAAAAAAE=", "metadata": "{}"},
        {"question_title": "Two Sum", "question_content": "Return the indices of the two numbers that add up to target.",
         "platform": "leetcode", "question_id": "1", "contest_id": "weekly-1", "contest_date": "2023-06-01T00:00:00",
         "starter_code": "class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n        ",
         "difficulty": "medium", "public_test_cases": json.dumps([{"input": "[2,7]\n9", "output": "[0, 1]", "testtype": "functional"}]),
         "private_test_cases": "eJwDAAAAAAE=", "metadata": "{\"func_name\": \"twoSum\"}"},
    ])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root")
    ap.add_argument("--log", default=os.devnull)
    ap.add_argument("--lifetime", type=float, default=300)
    ap.add_argument("--make-fixture")
    a = ap.parse_args()
    if a.make_fixture:
        make_fixture(a.make_fixture)
        return
    logf = open(a.log, "a")
    state = State()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(a.root, state, logf))
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    time.sleep(a.lifetime)  # stops by itself: a test that dies cannot leave it running
    srv.shutdown()


if __name__ == "__main__":
    main()
