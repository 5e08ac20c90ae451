#!/usr/bin/env python3
"""A stand-in for LLM APIs, for the tests of `data generate` (test-only, standard library only).

  POST /v1/chat/completions   the OpenAI-compatible API (OpenAI, DeepSeek, vLLM, llama.cpp, Ollama's /v1):
                              "Authorization: Bearer KEY" -> {"choices": [{"message": {"role", "content"}}]}
  POST /v1/messages           the Anthropic Messages API: "x-api-key: KEY" and "anthropic-version" ->
                              {"content": [{"type": "text", "text"}], ...}
A wrong or missing key gets 401 with the API's error object. A request for a "realistic request" gets a
numbered task; a request for code gets a program in the language it names (C++, Python, Rust, Go); every
fourth program does not compile (so verification has something to reject).
Test controls: GET /_test/set?rate=N&ra=S&fail=N&stop_after=K&open=1: 429 with Retry-After S to the next N requests,
500 to the next N, or 400 to every request after K more, or take requests without a key (Ollama); /_test/reset (also restarts the numbering). Requests are logged to --log as
"API MODEL KIND N".

Usage: llm_server.py --key KEY --log FILE [--lifetime S]   (prints "PORT")
"""
import argparse
import http.server
import json
import re
import threading
import time

PROGRAMS = {
    "cpp": "#include <iostream>\n#include <vector>\n#include <algorithm>\nint main() {\n    std::vector<int> v{5, 2, 8, 1};\n    std::sort(v.begin(), v.end());\n    for (int x : v) std::cout << x << ' ';\n    std::cout << std::endl;\n    return 0;\n}\n",
    "python": "def add(a: int, b: int) -> int:\n    \"\"\"Adds.\"\"\"\n    return a + b\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\nif __name__ == \"__main__\":\n    test_add()\n    print(\"ok\")\n",
    "rust": "use std::sync::mpsc;\nuse std::thread;\nfn main() {\n    let (tx, rx) = mpsc::channel();\n    thread::spawn(move || { tx.send(42).unwrap(); });\n    println!(\"{}\", rx.recv().unwrap());\n}\n",
    "go": "package main\n\nimport (\n\t\"fmt\"\n\t\"sync\"\n)\n\nfunc main() {\n\tvar wg sync.WaitGroup\n\tch := make(chan int, 3)\n\tfor i := 0; i < 3; i++ {\n\t\twg.Add(1)\n\t\tgo func(n int) { defer wg.Done(); ch <- n }(i)\n\t}\n\twg.Wait()\n\tclose(ch)\n\ts := 0\n\tfor v := range ch {\n\t\ts += v\n\t}\n\tfmt.Println(s)\n}\n",
}
TAGS = {"cpp": "cpp", "python": "python", "rust": "rust", "go": "go"}


class State:
    def __init__(self):
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        self.rate = 0
        self.retry_after = "1"
        self.fail = 0
        self.stop_after = -1
        self.open = False
        self.n_prompt = 0
        self.n_code = 0


def make_handler(key, state, logf):
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

        def do_GET(self):
            if self.path.startswith("/_test/"):
                q = dict(p.split("=", 1) for p in self.path.partition("?")[2].split("&") if "=" in p)
                with state.lock:
                    if self.path.startswith("/_test/reset"):
                        state.reset()
                    state.rate = int(q.get("rate", state.rate))
                    state.retry_after = q.get("ra", state.retry_after)
                    state.fail = int(q.get("fail", state.fail))
                    state.stop_after = int(q.get("stop_after", state.stop_after))
                    state.open = q.get("open", "1" if state.open else "0") == "1"
                return self.send(200, {"ok": True})
            return self.send(404, {"error": {"message": "not found"}})

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            req = json.loads(self.rfile.read(n) or b"{}")
            anthropic = self.path == "/v1/messages"
            if self.path not in ("/v1/chat/completions", "/v1/messages"):
                return self.send(404, {"error": {"message": "Unknown path " + self.path}})
            got = self.headers.get("x-api-key") if anthropic else (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            with state.lock:
                open_ = state.open
            if key and got != key and not (open_ and not got):
                err = {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}} if anthropic \
                    else {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}
                return self.send(401, err)
            if anthropic and not self.headers.get("anthropic-version"):
                return self.send(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "anthropic-version header is required"}})
            with state.lock:
                if state.rate > 0:
                    state.rate -= 1
                    return self.send(429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": state.retry_after})
                if state.fail > 0:
                    state.fail -= 1
                    return self.send(500, {"error": {"message": "The server had an error"}})
                if state.stop_after == 0:
                    return self.send(400, {"error": {"message": "stopped by the test"}})
                if state.stop_after > 0:
                    state.stop_after -= 1
            msgs = req.get("messages", [])
            user = msgs[-1]["content"] if msgs else ""
            system = req.get("system") if anthropic else next((m["content"] for m in msgs if m["role"] == "system"), None)
            if not system or not req.get("model") or not req.get("max_tokens"):
                return self.send(400, {"error": {"message": "model, max_tokens and a system prompt are expected"}})
            with state.lock:
                if "realistic request" in user:
                    state.n_prompt += 1
                    kind, k = "prompt", state.n_prompt
                    text = f"Please write a small program for task number {k} about " + re.sub(r".*about (.*?) \(.*", r"\1", user, flags=re.S) + "."
                else:
                    state.n_code += 1
                    kind, k = "code", state.n_code
                    lang = next((l for l in ("cpp", "python", "rust", "go") if f"```{TAGS[l]} block" in user), "cpp")
                    prog = PROGRAMS[lang]
                    if k % 4 == 0:
                        prog = prog.replace("(", "((", 1)  # does not compile
                    text = f"```{TAGS[lang]}\n{prog}```"
                logf.write(f"{'anthropic' if anthropic else 'openai'} {req['model']} {kind} {k}\n")
                logf.flush()
            if anthropic:
                return self.send(200, {"id": f"msg_{k}", "type": "message", "role": "assistant", "model": req["model"],
                                       "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                                       "usage": {"input_tokens": 10, "output_tokens": 20}})
            return self.send(200, {"id": f"chatcmpl-{k}", "object": "chat.completion", "model": req["model"],
                                   "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                                "finish_reason": "stop"}],
                                   "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}})

    return H


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--key", default="")
    ap.add_argument("--log", default="/dev/null")
    ap.add_argument("--lifetime", type=float, default=300)
    a = ap.parse_args()
    logf = open(a.log, "a")
    state = State()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(a.key, state, logf))
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    time.sleep(a.lifetime)
    srv.shutdown()


if __name__ == "__main__":
    main()
