"""Two completions sent at once to the server on PORT; prints their statuses
and generated token counts.

usage: two_requests.py PORT
"""
import http.client
import json
import sys
import threading

port = int(sys.argv[1])
results = [None, None]


def one(i):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", "/v1/completions",
                 body=json.dumps({"prompt": f"request {i}", "max_tokens": 6, "temperature": 0,
                                  "ignore_eos": True}),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    body = json.loads(resp.read())
    results[i] = (resp.status, body.get("usage", {}).get("completion_tokens"))


threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"two requests at once: {results[0][0]} {results[1][0]}, "
      f"{results[0][1]} and {results[1][1]} tokens")
