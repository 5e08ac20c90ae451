#!/usr/bin/env python3
"""A stand-in for the Hugging Face Hub, for the tests of src/model/hub.c (test-only, standard library only).

It serves model repositories from a folder laid out as ROOT/ORG/NAME/BRANCH/<files> with the Hub's URLs and
headers:
  GET  /api/models/ORG/NAME/revision/REV                -> {"id", "sha", "siblings": [{"rfilename"}]}
  HEAD|GET /ORG/NAME/resolve/REV/FILE                   -> LFS files (*.safetensors, *.bin): 302 to the "CDN"
        (a second port, so a client must not send its token there) with X-Linked-Etag (sha256) and
        X-Linked-Size; other files: 307 to the relative /api/resolve-cache/models/ORG/NAME/COMMIT/FILE, which
        answers with ETag (git blob sha1) and the content. X-Repo-Commit everywhere, X-Error-Code on errors.
  GET  http://127.0.0.1:CDNPORT/repos/<sha256>          -> the blob, with Range support.
Test controls (not part of the Hub): GET /_test/set?token=T&gated=0|1&cut=BYTES&cuts=N&stall=S&fail=N&cdn403=N&slow=S
sets a required Bearer token (private repo, or gated repo when gated=1), cuts the next N file bodies after
BYTES bytes, sends nothing for S seconds after the headers of the next large file (stall), answers 503 to the next N file GETs or 403
(an expired signed address) to the next N CDN requests, or sends bodies in 16 KiB pieces S seconds apart.
/_test/reset clears them.

Usage: hub_server.py --root DIR --log FILE [--lifetime S] [--watch-stdin]   (prints "PORT CDNPORT" on stdout)
       hub_server.py --make-fixture DIR                                      (writes the tiny test repos)
"""
import argparse
import hashlib
import http.server
import json
import os
import random
import socket
import struct
import sys
import threading
import time
import urllib.parse

LFS_SUFFIXES = (".safetensors", ".bin")


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, repo_id):
        self.repo_id = repo_id
        self.branches = {}  # branch -> commit
        self.commits = {}   # commit -> {name: bytes}


def load_repos(root):
    repos, blobs = {}, {}
    for org in sorted(os.listdir(root)):
        for name in sorted(os.listdir(os.path.join(root, org))):
            repo = Repo(f"{org}/{name}")
            for branch in sorted(os.listdir(os.path.join(root, org, name))):
                base = os.path.join(root, org, name, branch)
                files = {}
                for dirpath, _, filenames in os.walk(base):
                    for fn in filenames:
                        full = os.path.join(dirpath, fn)
                        with open(full, "rb") as f:
                            files[os.path.relpath(full, base).replace(os.sep, "/")] = f.read()
                h = hashlib.sha1(f"{repo.repo_id}@{branch}".encode())
                for fn in sorted(files):
                    h.update(f"{fn}:{git_blob_sha1(files[fn])}\n".encode())
                commit = h.hexdigest()
                repo.branches[branch] = commit
                repo.commits[commit] = files
                for data in files.values():
                    blobs[hashlib.sha256(data).hexdigest()] = data
            repos[repo.repo_id] = repo
    return repos, blobs


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.token = None
        self.gated = False
        self.cut = 0
        self.cuts = 0
        self.fail = 0
        self.stall = 0.0
        self.slow = 0.0
        self.cdn403 = 0


STATE = State()


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "hub-test/1.0"
    cdn = False

    def log_message(self, fmt, *args):  # quiet: the request log file is what tests read
        pass

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a stall test): not an error
            self.close_connection = True

    def record(self):
        auth = "yes" if self.headers.get("Authorization") else "no"
        line = f"{'cdn' if self.cdn else 'hub'} {self.command} {self.path} range={self.headers.get('Range', '-')} auth={auth}\n"
        with STATE.lock, open(self.server.log_path, "a") as f:
            f.write(line)

    def send(self, status, headers=None, body=b""):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def error(self, status, code, message, extra=None):
        headers = {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}
        headers.update(extra or {})
        self.send(status, headers, json.dumps({"error": message}).encode())

    def auth_ok(self, for_files):
        """Returns True, or sends the Hub's answer for a private or gated repo and returns False."""
        if STATE.token is None:
            return True
        got = self.headers.get("Authorization")
        if got == f"Bearer {STATE.token}":
            return True
        if got:
            self.error(401, "", "Invalid credentials in Authorization header")
            return False
        if STATE.gated:
            if not for_files:
                return True
            self.error(401, "GatedRepo", "Access to this model is restricted. You must have access to it and be "
                       "authenticated to access it. Please log in.")
            return False
        self.error(401, "RepoNotFound", "Repository not found")
        return False

    def serve_bytes(self, data, headers):
        """Sends data honouring Range, a planned cut or a planned 503."""
        if self.command == "GET":
            with STATE.lock:
                failing = STATE.fail > 0
                if failing:
                    STATE.fail -= 1
            if failing:
                self.error(503, "", "Service temporarily unavailable")
                return
        headers = dict(headers)
        headers["Accept-Ranges"] = "bytes"
        start, end, status = 0, len(data) - 1, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a) if a else 0
            end = int(b) if b else len(data) - 1
            if start >= len(data):
                self.send(416, {"Content-Range": f"bytes */{len(data)}"})
                return
            end = min(end, len(data) - 1)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        body = data[start:end + 1]
        headers["Content-Length"] = str(len(body))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        with STATE.lock:
            cut = STATE.cut if STATE.cuts > 0 and STATE.cut < len(body) else 0
            if cut:
                STATE.cuts -= 1
            stall = STATE.stall if len(body) > 65536 else 0
            if stall:
                STATE.stall = 0
        if stall:  # silent with the connection open: the client must give up by itself
            self.wfile.flush()
            time.sleep(stall)
            self.close_connection = True
            return
        if cut:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if STATE.slow:
            for i in range(0, len(body), 16384):
                self.wfile.write(body[i:i + 16384])
                self.wfile.flush()
                time.sleep(STATE.slow)
            return
        self.wfile.write(body)

    def do_HEAD(self):
        self.handle_any()

    def do_GET(self):
        self.handle_any()

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path.startswith("/_test/"):
            return self.control(url)
        self.record()
        parts = [urllib.parse.unquote(p) for p in url.path.split("/")[1:]]
        if self.cdn:
            with STATE.lock:
                expired = STATE.cdn403 > 0
                if expired:
                    STATE.cdn403 -= 1
            if expired:
                return self.send(403, {"Content-Type": "application/xml"},
                                 b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
            if len(parts) >= 2 and parts[0] == "repos" and parts[-1] in self.server.blobs:
                return self.serve_bytes(self.server.blobs[parts[-1]], {"Content-Type": "application/octet-stream"})
            return self.error(404, "", "no such object")
        repos = self.server.repos
        if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] == "revision":
            repo = repos.get(f"{parts[2]}/{parts[3]}")
            if repo is None:
                return self.error(404, "RepoNotFound", "Repository not found")
            if not self.auth_ok(False):
                return
            rev = "/".join(parts[5:])
            commit = repo.branches.get(rev, rev if rev in repo.commits else None)
            if commit is None:
                return self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            info = {"_id": "x", "id": repo.repo_id, "modelId": repo.repo_id, "sha": commit, "private": False,
                    "siblings": [{"rfilename": n} for n in sorted(repo.commits[commit])]}
            return self.send(200, {"Content-Type": "application/json"}, json.dumps(info).encode())
        if parts[:3] == ["api", "resolve-cache", "models"] and len(parts) >= 7:
            repo = repos.get(f"{parts[3]}/{parts[4]}")
            files = repo.commits.get(parts[5]) if repo else None
            name = "/".join(parts[6:])
            if files is None or name not in files:
                return self.error(404, "EntryNotFound", "Entry not found")
            if not self.auth_ok(True):
                return
            data = files[name]
            return self.serve_bytes(data, {"ETag": f'"{git_blob_sha1(data)}"', "X-Repo-Commit": parts[5],
                                           "Content-Type": "text/plain; charset=utf-8"})
        if len(parts) >= 5 and parts[2] == "resolve":
            repo = repos.get(f"{parts[0]}/{parts[1]}")
            if repo is None:
                return self.error(404, "RepoNotFound", "Repository not found")
            if not self.auth_ok(True):
                return
            # the client encodes '/' in a revision as %2F, so the revision is exactly one path part
            raw = url.path.split("/")[1:]
            rev = urllib.parse.unquote(raw[3])
            name = urllib.parse.unquote("/".join(raw[4:]))
            commit = repo.branches.get(rev, rev if rev in repo.commits else None)
            if commit is None:
                return self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            files = repo.commits[commit]
            if name not in files:
                return self.error(404, "EntryNotFound", f"{name} does not exist on {rev}",
                                  {"X-Repo-Commit": commit})
            data = files[name]
            if name.endswith(LFS_SUFFIXES):
                sha = hashlib.sha256(data).hexdigest()
                loc = f"http://127.0.0.1:{self.server.cdn_port}/repos/{sha[:2]}/{sha[2:4]}/{sha}?X-Signature=test"
                body = f"Found. Redirecting to {loc}".encode()
                pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {len(data)}\n"
                return self.send(302, {"Location": loc, "X-Repo-Commit": commit, "X-Linked-Etag": f'"{sha}"',
                                       "X-Linked-Size": str(len(data)),
                                       "ETag": f'"{git_blob_sha1(pointer.encode())}"'}, body)
            loc = f"/api/resolve-cache/models/{repo.repo_id}/{commit}/{urllib.parse.quote(name)}"
            return self.send(307, {"Location": loc, "X-Repo-Commit": commit}, b"Temporary Redirect")
        return self.error(404, "", "Not found")

    def control(self, url):
        q = urllib.parse.parse_qs(url.query)
        with STATE.lock:
            if url.path == "/_test/reset":
                STATE.reset()
            elif url.path == "/_test/set":
                if "token" in q:
                    STATE.token = q["token"][0] or None
                if "gated" in q:
                    STATE.gated = q["gated"][0] == "1"
                if "cut" in q:
                    STATE.cut = int(q["cut"][0])
                    STATE.cuts = int(q.get("cuts", ["1"])[0])
                if "fail" in q:
                    STATE.fail = int(q["fail"][0])
                if "stall" in q:
                    STATE.stall = float(q["stall"][0])
                if "slow" in q:
                    STATE.slow = float(q["slow"][0])
                if "cdn403" in q:
                    STATE.cdn403 = int(q["cdn403"][0])
        self.send(200, {"Content-Type": "text/plain"}, b"ok\n")


class CdnHandler(Handler):
    cdn = True


def make_server(handler, repos, blobs, log_path):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    srv.repos, srv.blobs, srv.log_path = repos, blobs, log_path
    return srv


def safetensors(tensors, rng):
    """A valid safetensors file of F32 tensors {name: n_elements} with random values."""
    header, offset, data = {}, 0, b""
    for name, n in tensors.items():
        header[name] = {"dtype": "F32", "shape": [n], "data_offsets": [offset, offset + 4 * n]}
        data += struct.pack(f"<{n}f", *(rng.uniform(-1, 1) for _ in range(n)))
        offset += 4 * n
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def make_fixture(root):
    rng = random.Random(1234)

    def write(rel, data):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())

    config = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 64,
              "num_hidden_layers": 1, "vocab_size": 256}
    tokenizer = {"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []}}
    tok_config = {"model_max_length": 512, "eos_token": "<|im_end|>"}
    m = "tiny-org/tiny-model/main/"
    write(m + "config.json", json.dumps(config, indent=2))
    write(m + "generation_config.json", json.dumps({"eos_token_id": [1, 2]}))
    write(m + "tokenizer.json", json.dumps(tokenizer))
    write(m + "tokenizer_config.json", json.dumps(tok_config))
    write(m + "model.safetensors", safetensors({"embed": 65536, "head": 4096}, rng))
    write(m + "README.md", "# tiny test model\n")
    v = "tiny-org/tiny-model/v1/"
    write(v + "config.json", json.dumps(dict(config, halo_fixture_revision="v1")))
    write(v + "tokenizer.json", json.dumps(tokenizer))
    write(v + "tokenizer_config.json", json.dumps(tok_config))
    shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    write(v + shards[0], safetensors({"embed": 8192}, rng))
    write(v + shards[1], safetensors({"head": 4096}, rng))
    write(v + "model.safetensors.index.json",
          json.dumps({"metadata": {"total_size": 49152}, "weight_map": {"embed": shards[0], "head": shards[1]}}))
    a = "tiny-org/tiny-adapter/main/"
    write(a + "adapter_config.json", json.dumps({"peft_type": "LORA", "r": 4, "base_model_name_or_path":
                                                 "tiny-org/tiny-model"}))
    write(a + "adapter_model.safetensors", safetensors({"lora_A": 256}, rng))
    b = "tiny-org/bin-only/main/"
    write(b + "config.json", json.dumps(config))
    write(b + "pytorch_model.bin", b"\x80\x02not really a pickle")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root")
    ap.add_argument("--log")
    ap.add_argument("--lifetime", type=float, default=300)
    ap.add_argument("--watch-stdin", action="store_true")
    ap.add_argument("--make-fixture")
    args = ap.parse_args()
    if args.make_fixture:
        make_fixture(args.make_fixture)
        return
    repos, blobs = load_repos(args.root)
    hub = make_server(Handler, repos, blobs, args.log)
    cdn = make_server(CdnHandler, repos, blobs, args.log)
    hub.cdn_port = cdn.server_address[1]
    for s in (hub, cdn):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print(f"{hub.server_address[1]} {cdn.server_address[1]}", flush=True)
    if args.watch_stdin:  # the parent closing our stdin (or dying) ends the server
        threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    time.sleep(args.lifetime)
    os._exit(0)


if __name__ == "__main__":
    main()
