"""qnext-serve end to end, on loopback: every endpoint, greedy text equal to
qnext-run's, concurrent requests each equal to the same request alone (the
engine batches them), streaming, stop strings, a client that goes away, the
error table, a full queue, and SIGTERM. Prints one "ok: ..." line per check
and exits 1 on the first failure.

usage: serve_test.py QNEXT_SERVE QNEXT_RUN ARTIFACT
"""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

from stream_client import open_stream, read_rest

serve, run, artifact = sys.argv[1:4]


def check(ok, what, detail=""):
    if not ok:
        print(f"FAIL: {what}: {detail}")
        sys.exit(1)
    print(f"ok: {what}")


def start(*args):
    proc = subprocess.Popen([serve, artifact, "--port", "0", *args], stderr=subprocess.PIPE,
                            text=True)
    line = proc.stderr.readline()
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        check(False, "the server starts", line)
    return proc, int(m.group(1))


def request(port, method, path, body=None, raw=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    text = resp.read().decode()
    headers = dict(resp.getheaders())
    conn.close()
    return resp.status, text, headers


def events(text):
    """The data of each server-sent event."""
    return [line[len("data: "):] for line in text.split("\n") if line.startswith("data: ")]


proc, port = start("--slots", "4", "--max-context", "256", "--cache-every", "64")
try:
    status, text, _ = request(port, "GET", "/health")
    check(status == 200 and json.loads(text) == {"status": "ok"}, "GET /health", text)
    status, text, _ = request(port, "GET", "/ready")
    check(status == 200 and json.loads(text) == {"status": "ready"}, "GET /ready: ready", text)
    status, text, _ = request(port, "GET", "/v1/models")
    models = json.loads(text)
    check(status == 200 and models["data"][0]["id"] == "a" and models["object"] == "list",
          "GET /v1/models names the artifact", text)

    # Greedy text equals qnext-run's for the same prompt.
    prompts = ["Hello there", "Once upon a time", "The quick brown fox", "1 2 3 4",
               "A long time ago in a galaxy", "qnext", "x y z", "Why is the sky blue?"]
    alone = {}
    for p in prompts:
        status, text, _ = request(port, "POST", "/v1/completions",
                                  {"model": "a", "prompt": p, "max_tokens": 12, "temperature": 0})
        body = json.loads(text)
        check(status == 200 and body["object"] == "text_completion", f"completion of {p!r}", text)
        alone[p] = body["choices"][0]["text"]
    reference = subprocess.run([run, artifact, "--prompt", prompts[0], "--max-new", "12",
                                "--temperature", "0"], capture_output=True).stdout.decode()
    check(reference[:-1] == alone[prompts[0]],
          "greedy text equals qnext-run's", f"{reference!r} vs {alone[prompts[0]]!r}")
    usage = body["usage"]
    check(usage["completion_tokens"] == 12 and
          usage["total_tokens"] == usage["prompt_tokens"] + 12 and
          body["choices"][0]["finish_reason"] == "length", "usage and finish_reason", text)

    # Concurrent requests (more than the slots, so some wait): each equals
    # the same request alone, though the engine ran them as batched rows.
    results = {}
    def one(i):
        p = prompts[i % len(prompts)]
        status, text, _ = request(port, "POST", "/v1/completions",
                                  {"prompt": p, "max_tokens": 12, "temperature": 0})
        results[i] = (p, status, text)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = [(p, s, t) for p, s, t in results.values()
           if s != 200 or json.loads(t)["choices"][0]["text"] != alone[p]]
    check(len(results) == 16 and not bad,
          "16 concurrent requests on 4 slots each equal the request alone", bad[:2])

    # A chat, whole and streamed: the deltas add up to the whole reply.
    chat = {"messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "Hi"}],
            "max_completion_tokens": 10, "temperature": 0}
    status, text, headers = request(port, "POST", "/v1/chat/completions", chat)
    whole = json.loads(text)
    check(status == 200 and whole["object"] == "chat.completion" and
          whole["choices"][0]["message"]["role"] == "assistant", "a chat completion", text)
    # Every turn of a conversation has its first turn's prefix hash; another
    # conversation has another.
    hash1 = headers.get("X-Qnext-Prefix-Hash", "")
    turn2 = dict(chat, messages=chat["messages"] + [
        {"role": "assistant", "content": whole["choices"][0]["message"]["content"]},
        {"role": "user", "content": "More"}])
    hash2 = request(port, "POST", "/v1/chat/completions", turn2)[2].get("X-Qnext-Prefix-Hash")
    other = dict(chat, messages=[{"role": "user", "content": "Hi"}])
    hash3 = request(port, "POST", "/v1/chat/completions", other)[2].get("X-Qnext-Prefix-Hash")
    check(re.fullmatch(r"[0-9a-f]{16}", hash1) and hash2 == hash1 and hash3 != hash1,
          "X-Qnext-Prefix-Hash: one per conversation", (hash1, hash2, hash3))
    status, text, headers = request(port, "POST", "/v1/chat/completions",
                                    dict(chat, stream=True, stream_options={"include_usage": True}))
    data = events(text)
    chunks = [json.loads(d) for d in data[:-1]]
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    check(status == 200 and headers.get("Content-Type", "").startswith("text/event-stream") and
          data[-1] == "[DONE]" and chunks[0]["choices"][0]["delta"]["role"] == "assistant" and
          chunks[-2]["choices"][0]["finish_reason"] == "length" and
          chunks[-1]["usage"]["completion_tokens"] == 10 and
          streamed == whole["choices"][0]["message"]["content"],
          "a streamed chat adds up to the whole one, then usage and [DONE]", text[-400:])

    # logit_bias: +100 on one token makes greedy decoding choose it.
    status, text, _ = request(port, "POST", "/v1/completions",
                              {"prompt": prompts[0], "max_tokens": 3, "temperature": 0,
                               "logit_bias": {"120": 100}, "return_token_ids": True})
    check(status == 200 and json.loads(text)["choices"][0]["token_ids"] == [120, 120, 120],
          "logit_bias +100: greedy picks that token", text)

    # Thinking with a budget: the prompt opens the think block; after 6
    # tokens the budget forces the stop-thinking text and </think>; the
    # reasoning comes apart from the content, whole and streamed alike.
    think = {"messages": [{"role": "user", "content": "Think about it"}], "max_tokens": 90,
             "temperature": 0, "chat_template_kwargs": {"enable_thinking": True},
             "thinking_budget": 6, "logit_bias": {"385": -100, "387": -100, "389": -100}}
    status, text, _ = request(port, "POST", "/v1/chat/completions", think)
    body = json.loads(text)
    message = body["choices"][0]["message"]
    stop_thinking = ("Considering the limited time by the user, I have to give the solution "
                     "based on the thinking directly now.\n")
    check(status == 200 and message["reasoning_content"].endswith(stop_thinking) and
          message["reasoning"] == message["reasoning_content"] and
          "</think>" not in message["content"] and message["content"] and
          body["usage"]["completion_tokens_details"]["reasoning_tokens"] > 6,
          "thinking_budget 6: the reasoning ends with the forced text, the content follows", text)
    status, text, _ = request(port, "POST", "/v1/chat/completions",
                              dict(think, stream=True, stream_options={"include_usage": True}))
    chunks = [json.loads(d) for d in events(text)[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    check("".join(d.get("reasoning_content", "") for d in deltas) == message["reasoning_content"] and
          "".join(d.get("content", "") for d in deltas) == message["content"] and
          chunks[-1]["usage"]["completion_tokens_details"] ==
          body["usage"]["completion_tokens_details"],
          "streamed: the reasoning and content deltas add up to the whole reply", text[-300:])

    # ignore_eos: the end-of-turn token (made certain by logit_bias) does
    # not end the request.
    eos = {"prompt": "x", "max_tokens": 5, "temperature": 0, "logit_bias": {"387": 100}}
    ends = [json.loads(request(port, "POST", "/v1/completions", dict(eos, **extra))[1])
            for extra in ({}, {"ignore_eos": True})]
    check(ends[0]["usage"]["completion_tokens"] == 1 and ends[0]["choices"][0]["finish_reason"] == "stop" and
          ends[1]["usage"]["completion_tokens"] == 5 and ends[1]["choices"][0]["finish_reason"] == "length",
          "ignore_eos: max_tokens whatever the model says", ends)

    # A stop string ends the text where it starts.
    target = alone[prompts[1]]
    stop = target[4:7]
    cut = target[:target.find(stop)]
    status, text, _ = request(port, "POST", "/v1/completions",
                              {"prompt": prompts[1], "max_tokens": 12, "temperature": 0,
                               "stop": [stop]})
    body = json.loads(text)
    check(status == 200 and body["choices"][0]["text"] == cut and
          body["choices"][0]["finish_reason"] == "stop", f"stop string {stop!r}", text)
    status, text, _ = request(port, "POST", "/v1/completions",
                              {"prompt": prompts[1], "max_tokens": 12, "temperature": 0,
                               "stop": stop, "stream": True})
    streamed = "".join(json.loads(d)["choices"][0]["text"] for d in events(text)[:-1])
    check(streamed == cut, "a stop string streamed: nothing of it is sent", text)

    # The prefix cache. A prompt of token ids; the same again resumes at its
    # end (its logits kept), sampling the same tokens; a second turn that
    # repeats prompt and reply prefills only what is new (the snapshot at
    # the first request's end: its prompt and every reply token but the
    # last, which was sampled, not processed); a long prompt's snapshots
    # every 64 tokens (--cache-every) serve a prompt that shares only its
    # beginning.
    def complete(ids, max_tokens=8):
        status, text, _ = request(port, "POST", "/v1/completions",
                                  {"prompt": ids, "max_tokens": max_tokens, "temperature": 0,
                                   "return_token_ids": True})
        body = json.loads(text)
        check(status == 200, f"a prompt of {len(ids)} token ids", text)
        return body["choices"][0]["token_ids"], body["usage"]["prompt_tokens_details"]["cached_tokens"], body
    turn1 = list(range(1, 11))
    reply, cached, body = complete(turn1)
    check(body["prompt_token_ids"] == turn1 and len(reply) == 8 and cached == 0,
          "token ids in and out (return_token_ids), nothing cached yet", body)
    again, cached, body = complete(turn1)
    check(again == reply and cached == 10, "the same prompt again: all 10 tokens cached", body)
    turn2 = turn1 + reply + [5, 6, 7]
    reply2, cached, body = complete(turn2)
    check(cached == 10 + 7 and body["usage"]["prompt_tokens"] == 21,
          "a second turn prefills only its new tokens (17 of 21 cached)", body)
    long = [(i * 7) % 300 + 3 for i in range(200)]
    complete(long, 2)
    _, cached, body = complete(long[:150] + [9], 2)
    check(cached == 128, "a long prompt's snapshots every 64 tokens: 128 of 151 cached", body)
    status, text, _ = request(port, "GET", "/metrics")
    hits = int(re.search(r"^qnext_prefix_cache_hits_total (\d+)$", text, re.M).group(1))
    saved = int(re.search(r"^qnext_prefix_cache_tokens_total (\d+)$", text, re.M).group(1))
    check(hits >= 3 and saved >= 10 + 17 + 128 and
          re.search(r"^qnext_prefix_cache_bytes [1-9]\d*$", text, re.M),
          "/metrics counts the hits, the tokens and the bytes", text)

    # A client that goes away mid-stream frees its slot: the request ends
    # well before its 240 tokens.
    def generated():
        text = request(port, "GET", "/metrics")[1]
        return int(re.search(r"^qnext_completion_tokens_total (\d+)$", text, re.M).group(1))
    before = generated()
    sock, received = open_stream(port, {"prompt": "tell", "max_tokens": 240, "temperature": 0})
    check(b"data: " in received, "a stream starts", received)
    sock.close()
    busy = None
    for _ in range(100):
        status, text, _ = request(port, "GET", "/metrics")
        busy = int(re.search(r"^qnext_slots_busy (\d+)$", text, re.M).group(1))
        if busy == 0:
            break
        time.sleep(0.1)
    check(busy == 0 and generated() - before < 120, "a client gone mid-stream frees its slot",
          f"{generated() - before} tokens generated")
    check(re.search(r"^qnext_requests_total \d+$", text, re.M) and
          "# TYPE qnext_completion_tokens_total counter" in text, "GET /metrics", text)

    # Errors: one line each, OpenAI-shaped, with the status.
    table = [
        ("/v1/completions", None, "{not json", 400, "the request body is not valid JSON"),
        ("/v1/completions", [1, 2], None, 400, "the request body must be a JSON object"),
        ("/v1/completions", {"prompt": 5}, None, 400, "prompt must be a string or a list of token ids"),
        ("/v1/completions", {"prompt": "x", "stream": True, "return_token_ids": True}, None, 400,
         "return_token_ids is for whole responses (stream false)"),
        ("/v1/completions", {"prompt": "x", "logit_bias": {"390": 1}}, None, 400,
         "logit_bias: '390' is not a token id in [0, 390)"),
        ("/v1/completions", {"prompt": "x", "logit_bias": {"5": 101}}, None, 400,
         "logit_bias: the bias of token 5 must be a number in [-100, 100]"),
        ("/v1/completions", {"prompt": [1, "x"]}, None, 400, "prompt must be a string or a list of token ids"),
        ("/v1/completions", {"prompt": []}, None, 400, "prompt must be a string or a list of token ids"),
        ("/v1/completions", {"prompt": [3, 100000]}, None, 400, "prompt[1]: token id 100000 is outside the vocabulary [0, 512)"),
        ("/v1/completions", {"prompt": "x", "max_tokens": "9"}, None, 400, "max_tokens must be an integer"),
        ("/v1/completions", {"prompt": "x", "max_tokens": 0}, None, 400, "max_tokens must be in [1, 256], got 0"),
        ("/v1/completions", {"prompt": "x", "temperature": 3}, None, 400, "temperature must be in [0, 2], got 3"),
        ("/v1/completions", {"prompt": "x", "n": 2}, None, 400, "n must be in [1, 1], got 2"),
        ("/v1/completions", {"prompt": "x", "logprobs": 2}, None, 400, "unsupported field 'logprobs'"),
        ("/v1/completions", {"prompt": "x", "stop": [""]}, None, 400,
         "stop must be a string of 1 to 256 bytes or a list of them"),
        ("/v1/completions", {"prompt": "x", "stop": "s" * 257}, None, 400,
         "stop must be a string of 1 to 256 bytes or a list of them"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": [{"type": 5}]}]}, None, 400,
         "messages[0]: content parts must be text parts"),
        ("/v1/completions", {"prompt": "x", "frequency_penalty": 3}, None, 400,
         "frequency_penalty must be in [-2, 2], got 3"),
        ("/v1/completions", {"prompt": "x " * 300}, None, 400,
         "the prompt is 600 tokens; this server's context is 256 tokens (--max-context), the reply included"),
        ("/v1/completions", {"prompt": "x " * 128}, None, 400,
         "the prompt is 256 tokens; this server's context is 256 tokens (--max-context), the reply included"),
        ("/v1/completions", {"model": "gpt-4", "prompt": "x"}, None, 404,
         "the model 'gpt-4' does not exist (this server has 'a')"),
        ("/v1/chat/completions", {"messages": []}, None, 400, "messages must be a non-empty list"),
        ("/v1/chat/completions", {"messages": [{"role": "robot", "content": "x"}]}, None, 400,
         "messages[0]: role 'robot' is not supported (system, user, assistant, tool)"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"},
         None, 400, 'tool_choice must be "auto" or "none" ("required" and a named function are not supported)'),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]},
         None, 400, 'tools[0] must be {"type": "function", "function": {"name": ..., ...}}'),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": 5}]},
         None, 400, 'tools[0] must be {"type": "function", "function": {"name": ..., ...}}'),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"},
                                               {"role": "assistant", "tool_calls": [{"function": 3}]}]},
         None, 400, 'messages[1].tool_calls[0] must be {"type": "function", "function": {"name": ..., "arguments": ...}}'),
        ("/v1/chat/completions", {"messages": [{"role": "assistant"}]}, None, 400,
         "messages[0].content must be a string or text parts"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "thinking_budget": -1},
         None, 400, "thinking_budget must be an integer in [0, 256]"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": 7}]}, None, 400,
         "messages[0].content must be a string or text parts"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}],
                                  "chat_template_kwargs": {"enable_thinking": "yes"}}, None, 400,
         "chat_template_kwargs takes enable_thinking (true or false) only"),
    ]
    for path, body, raw, want, message in table:
        status, text, _ = request(port, "POST", path, body, raw)
        try:
            error = json.loads(text)["error"]
        except (ValueError, KeyError):
            error = {}
        check(status == want and error.get("message") == message,
              f"{path} {raw or json.dumps(body)[:60]}: {want}", f"{status} {text}")
    status, text, _ = request(port, "GET", "/v1/nothing")
    check(status == 404 and json.loads(text)["error"]["message"] == "no such endpoint: GET /v1/nothing",
          "an unknown endpoint: 404", text)
    status, text, _ = request(port, "GET", "/health")
    check(status == 200, "still up after every bad request")
    # The longest prompt that fits: one token of reply.
    status, text, _ = request(port, "POST", "/v1/completions", {"prompt": "x " * 127 + "x", "max_tokens": 5})
    body = json.loads(text)
    check(status == 200 and body["usage"]["prompt_tokens"] == 255 and
          body["usage"]["completion_tokens"] == 1 and body["choices"][0]["finish_reason"] == "length",
          "a prompt of 255 tokens in a context of 256: one token", text)

    # SIGTERM with a stream in flight: it finishes (the grace period), then
    # exit status 0.
    sock, received = open_stream(port, {"prompt": "tell", "max_tokens": 150, "temperature": 0,
                                        "stream_options": {"include_usage": True}})
    proc.send_signal(signal.SIGTERM)
    received = read_rest(sock, received)
    check(b'"finish_reason":"length"' in received and b'"completion_tokens":150' in received,
          "SIGTERM: the stream in flight finishes within the grace period", received[-300:])
    check(proc.wait(timeout=30) == 0, "SIGTERM: exit status 0")
finally:
    if proc.poll() is None:
        proc.kill()

# One slot, no queue: a request to the idle server runs; while a stream
# holds the slot, the next is refused with 429 and Retry-After; SIGINT with
# the stream in flight ends it and exits 0.
proc, port = start("--slots", "1", "--queue", "0", "--max-context", "4096", "--cache-mb", "0",
                   "--grace", "0.1")
try:
    # Without the cache, the second turn's tokens are the same.
    reply2b, cached, body = complete(turn2)
    check(reply2b == reply2 and cached == 0,
          "without the cache (--cache-mb 0): the same second turn, nothing cached", body)
    status, text, _ = request(port, "POST", "/v1/completions", {"prompt": "x", "max_tokens": 2})
    check(status == 200, "one slot, no queue, idle: the request runs", text)

    # Tools: the functions go into the system turn (a longer prompt); a
    # history with an assistant's tool call and the tool's result is taken.
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}
    history = [{"role": "user", "content": "Weather in Paris?"},
               {"role": "assistant", "content": None, "tool_calls": [
                   {"id": "c1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
               {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]
    sizes = []
    for extra in ({}, {"tools": [weather]}, {"tools": [weather], "tool_choice": "none"}):
        status, text, _ = request(port, "POST", "/v1/chat/completions",
                                  dict({"messages": history, "max_tokens": 2}, **extra))
        check(status == 200, f"a chat with a tool call and its result {extra and 'and tools' or ''}",
              text)
        sizes.append(json.loads(text)["usage"]["prompt_tokens"])
    check(sizes[1] > sizes[0] + 50 and sizes[2] == sizes[0],
          "tools go into the prompt (not with tool_choice none)", sizes)

    # (The end-of-turn tokens banned: the stream runs until it is cut.)
    sock, received = open_stream(port, {"prompt": "tell", "max_tokens": 4000,
                                        "logit_bias": {"385": -100, "387": -100}})
    status, text, headers = request(port, "POST", "/v1/completions", {"prompt": "x", "max_tokens": 2})
    check(status == 429 and headers.get("Retry-After") == "1" and
          json.loads(text)["error"]["code"] == "queue_full", "the slot busy: 429 and Retry-After", text)
    status, text, headers = request(port, "GET", "/ready")
    check(status == 503 and json.loads(text) == {"status": "full"} and
          headers.get("Retry-After") == "1", "the slot busy: /ready 503", text)
    proc.send_signal(signal.SIGINT)
    check(proc.wait(timeout=30) == 0, "SIGINT with a stream in flight: exit status 0")
    received = read_rest(sock, received)
    check(b"the server is stopping" in received,
          "past the grace period (--grace 0.1), the stream in flight ends, saying why",
          received[-300:])
finally:
    if proc.poll() is None:
        proc.kill()
print("qnext-serve: all checks passed")
