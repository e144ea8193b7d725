"""Runs a command against a qnext-serve started for it on a free port of
loopback ({port} in the command's arguments is replaced by it), then stops
the server with SIGTERM; exits with the command's status, or 1 when the
server did not start or did not exit 0.

usage: with_server.py QNEXT_SERVE ARTIFACT [SERVER OPTIONS...] -- COMMAND...
"""
import re
import signal
import subprocess
import sys

split = sys.argv.index("--")
server, command = sys.argv[1:split], sys.argv[split + 1:]
proc = subprocess.Popen([server[0], server[1], "--port", "0", *server[2:]],
                        stderr=subprocess.PIPE, text=True)
line = proc.stderr.readline()
m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
if not m:
    print(f"with_server.py: the server did not start: {line}", flush=True)
    proc.kill()
    sys.exit(1)
status = subprocess.run([a.replace("{port}", m.group(1)) for a in command]).returncode
proc.send_signal(signal.SIGTERM)
if proc.wait(timeout=60) != 0:
    print(f"with_server.py: the server exited with {proc.returncode}", flush=True)
    sys.exit(1)
sys.exit(status)
