"""A bounded burst against qnext-serve on loopback: 64 requests over 8
concurrent connections (chat and text, whole and streamed, every eighth a
client that leaves mid-stream), then checks that every response that was
read to its end is well-formed, none was lost, the server counted all 64
and ends idle. Prints one "ok: ..." line per check and exits 1 on the
first failure.

usage: load_test.py QNEXT_SERVE ARTIFACT
"""
import http.client
import json
import re
import signal
import subprocess
import sys
import threading
import time

from stream_client import open_stream

serve, artifact = sys.argv[1:3]


def check(ok, what, detail=""):
    if not ok:
        print(f"FAIL: {what}: {detail}", flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


proc = subprocess.Popen([serve, artifact, "--port", "0", "--slots", "4", "--max-context", "512"],
                        stderr=subprocess.PIPE, text=True)
m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", proc.stderr.readline())
if not m:
    proc.kill()
    check(False, "the server starts")
port = int(m.group(1))


def request_body(i):
    chat = i % 2 == 0
    body = {"max_tokens": 8 + i % 24, "temperature": 0.7, "seed": i}
    if chat:
        body["messages"] = [{"role": "user", "content": f"Request {i}: tell me about {i * 7}"}]
    else:
        body["prompt"] = f"Request {i} begins" + " and goes on" * (i % 5)
    if i % 4 in (1, 2):
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return ("/v1/chat/completions" if chat else "/v1/completions"), body


def well_formed(path, body, status, text):
    """Why the response is not what the request asked for ('' when it is)."""
    if status != 200:
        return f"status {status}: {text[:200]}"
    chat = path.endswith("chat/completions")
    if not body.get("stream"):
        r = json.loads(text)
        c = r["choices"][0]
        content = c["message"]["content"] if chat else c["text"]
        u = r["usage"]
        if not isinstance(content, str) or c["finish_reason"] not in ("stop", "length"):
            return f"choice {c}"
        if not 1 <= u["completion_tokens"] <= body["max_tokens"] or \
           u["total_tokens"] != u["prompt_tokens"] + u["completion_tokens"]:
            return f"usage {u}"
        return ""
    data = [line[6:] for line in text.split("\n") if line.startswith("data: ")]
    if data[-1] != "[DONE]":
        return "no [DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    ends = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    usage = chunks[-1].get("usage")
    if ends not in (["stop"], ["length"]) or not usage or usage["completion_tokens"] > body["max_tokens"]:
        return f"ends {ends}, usage {usage}"
    return ""


results, left = {}, []
lock = threading.Lock()


def worker(w):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for i in range(w, 64, 8):
        path, body = request_body(i)
        if i % 8 == 3:  # a client that leaves mid-stream
            sock, _ = open_stream(port, dict(body, max_tokens=200), path)
            sock.close()
            with lock:
                left.append(i)
            continue
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        text = resp.read().decode()
        with lock:
            results[i] = (path, body, resp.status, text)
    conn.close()


start = time.time()
threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join(timeout=300)
elapsed = time.time() - start
try:
    check(not any(t.is_alive() for t in threads), "64 requests over 8 connections end", f"{elapsed:.0f} s")
    bad = {i: well_formed(*r) for i, r in results.items()}
    bad = {i: why for i, why in bad.items() if why}
    check(len(results) == 56 and len(left) == 8 and not bad,
          "every response read to its end is well-formed, none lost (56 read, 8 left mid-stream)",
          f"{len(results)} read, {len(left)} left, bad: {list(bad.items())[:3]}")
    for _ in range(100):
        metrics = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        metrics.request("GET", "/metrics")
        text = metrics.getresponse().read().decode()
        busy = int(re.search(r"^qnext_slots_busy (\d+)$", text, re.M).group(1))
        if busy == 0:
            break
        time.sleep(0.1)
    total = int(re.search(r"^qnext_requests_total (\d+)$", text, re.M).group(1))
    check(total == 64 and busy == 0, "the server counted 64 requests and ends idle",
          f"{total} counted, {busy} busy")
    proc.send_signal(signal.SIGTERM)
    check(proc.wait(timeout=60) == 0, "SIGTERM: exit status 0")
finally:
    if proc.poll() is None:
        proc.kill()
print(f"load: all checks passed ({elapsed:.1f} s)")
