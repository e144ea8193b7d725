"""Two qnext-serve replicas behind HAProxy with docs/haproxy.cfg, all on
loopback: both replicas answer; a conversation that sends its prefix hash
back stays on its replica; one replica stopped, the other carries on and no
request fails. Prints one "ok: ..." line per check and exits 1 on the
first failure.

usage: haproxy_test.py QNEXT_SERVE ARTIFACT HAPROXY_CFG
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

serve, artifact, config = sys.argv[1:4]


def check(ok, what, detail=""):
    if not ok:
        print(f"FAIL: {what}: {detail}", flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json", **(headers or {})})
    resp = conn.getresponse()
    text = resp.read().decode()
    conn.close()
    return resp.status, text, {k.lower(): v for k, v in resp.getheaders()}


def replica():
    proc = subprocess.Popen([serve, artifact, "--port", "0", "--slots", "2",
                             "--max-context", "256", "--grace", "2"],
                            stderr=subprocess.PIPE, text=True)
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", proc.stderr.readline())
    if not m:
        proc.kill()
        check(False, "a replica starts")
    return proc, int(m.group(1))


def served(port):
    text = request(port, "GET", "/metrics")[1]
    return int(re.search(r"^qnext_requests_total (\d+)$", text, re.M).group(1))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


(a, port_a), (b, port_b) = replica(), replica()
lb = free_port()
env = dict(os.environ, QNEXT_LB=f"127.0.0.1:{lb}", QNEXT_A=f"127.0.0.1:{port_a}",
           QNEXT_B=f"127.0.0.1:{port_b}")
haproxy = subprocess.Popen(["haproxy", "-f", config, "-db"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    # Up: both replicas' health checks pass (a few rounds of 500 ms).
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            if request(lb, "GET", "/ready")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.2)
    time.sleep(1.5)
    completion = {"prompt": "Once upon a time", "max_tokens": 4, "temperature": 0}
    statuses = [request(lb, "POST", "/v1/completions", completion)[0] for _ in range(8)]
    check(statuses == [200] * 8 and served(port_a) >= 2 and served(port_b) >= 2,
          "8 requests through HAProxy: both replicas answer",
          (statuses, served(port_a), served(port_b)))

    # A conversation: its first turn lands anywhere; the turns that send
    # its prefix hash back land on the same replica.
    chat = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "temperature": 0}
    before = (served(port_a), served(port_b))
    status, text, headers = request(lb, "POST", "/v1/chat/completions", chat)
    key = headers.get("x-qnext-prefix-hash")
    first = 0 if served(port_a) > before[0] else 1
    for turn in range(4):
        chat["messages"] += [{"role": "assistant", "content": "ok"},
                             {"role": "user", "content": f"and {turn}"}]
        status, text, _ = request(lb, "POST", "/v1/chat/completions", chat,
                                  {"X-Qnext-Prefix-Hash": key})
        check(status == 200, f"turn {turn + 2}", text)
    after = (served(port_a), served(port_b))
    check(after[first] - before[first] == 5 and after[1 - first] == before[1 - first],
          "a conversation that sends its prefix hash back stays on its replica",
          (before, after, first))

    # Replica a stopped: every request still answered, by b.
    a.send_signal(signal.SIGTERM)
    check(a.wait(timeout=30) == 0, "replica a stops (SIGTERM), exit status 0")
    before_b = served(port_b)
    statuses = [request(lb, "POST", "/v1/completions", completion)[0] for _ in range(8)]
    check(statuses == [200] * 8 and served(port_b) - before_b == 8,
          "replica a stopped: replica b answers all 8 requests",
          (statuses, served(port_b) - before_b))
finally:
    haproxy.terminate()
    haproxy.wait(timeout=30)
    for proc in (a, b):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
print("haproxy: all checks passed")
