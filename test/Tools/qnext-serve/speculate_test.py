"""qnext-serve --speculate on loopback: greedy completions equal those of
a server without it (one request at a time, so each decodes alone and
speculates), a sampled one is well-formed, concurrent requests (batched
steps, no speculation) equal the requests alone, and /metrics counts the
speculative steps.

usage: speculate_test.py QNEXT_SERVE ARTIFACT
"""
import http.client
import json
import re
import signal
import subprocess
import sys
import threading

serve, artifact = sys.argv[1:3]
failed = False


def check(ok, what, detail=""):
    global failed
    print(("ok: " if ok else "FAIL: ") + what + ("" if ok else f": {detail}"), flush=True)
    failed = failed or not ok


def start(*options):
    proc = subprocess.Popen([serve, artifact, "--port", "0", "--max-context", "512", *options],
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
    if not m:
        print(f"FAIL: the server did not start: {line}", flush=True)
        proc.kill()
        sys.exit(1)
    return proc, int(m.group(1))


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    check(proc.wait(timeout=60) == 0, "the server exits 0")


def complete(port, prompt, **fields):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    body = {"model": "a", "prompt": prompt, "max_tokens": 24, "temperature": 0,
            "ignore_eos": True, **fields}
    conn.request("POST", "/v1/completions", body=json.dumps(body),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    text = resp.read().decode()
    return resp.status, json.loads(text)


def text(body):
    return body["choices"][0]["text"] if "choices" in body else json.dumps(body)


prompts = ["Hello there", "Once upon a time", "1 2 3 4", "Why is the sky blue?"]
plain, port = start()
try:
    expected = {p: text(complete(port, p)[1]) for p in prompts}
finally:
    stop(plain)

spec, port = start("--speculate", "3")
try:
    # A prompt seen before resumes from the prefix cache: its first step is a
    # decode step, the next ones speculate.
    for p in prompts + prompts[:1]:
        status, body = complete(port, p)
        check(status == 200 and text(body) == expected[p] and
              body.get("usage", {}).get("completion_tokens") == 24,
              f"greedy {p!r} equals the server's without --speculate",
              f"{body} vs {expected[p]!r}")
    status, body = complete(port, prompts[0], temperature=0.8, seed=5)
    check(status == 200 and body.get("usage", {}).get("completion_tokens") == 24, "a sampled completion",
          str(body))
    results = {}

    def one(p):
        results[p] = text(complete(port, p)[1])

    threads = [threading.Thread(target=one, args=(p,)) for p in prompts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(all(results[p] == expected[p] for p in prompts),
          "concurrent requests equal the requests alone", str(results))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/metrics")
    metrics = conn.getresponse().read().decode()
    steps = re.search(r"^qnext_speculative_steps_total (\d+)", metrics, re.M)
    drafts = re.search(r"^qnext_speculative_drafts_total (\d+)", metrics, re.M)
    check(steps is not None and int(steps.group(1)) > 0 and drafts is not None and
          int(drafts.group(1)) >= int(steps.group(1)),
          "/metrics counts the speculative steps and their drafts", metrics[-400:])
finally:
    stop(spec)
print("speculate: " + ("FAILED" if failed else "all checks passed"), flush=True)
sys.exit(1 if failed else 0)
