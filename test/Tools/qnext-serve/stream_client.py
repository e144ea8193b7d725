"""A streamed request on a raw socket, for the tests that read part of a
stream and then leave, or read it to the end after a signal (serve_test.py,
load_test.py)."""
import json
import socket


def open_stream(port, body, path="/v1/completions"):
    """POSTs `body` (streamed) and reads up to the first event: (the socket,
    the bytes so far)."""
    sock = socket.create_connection(("127.0.0.1", port))
    data = json.dumps(dict(body, stream=True))
    sock.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(data)}\r\n\r\n{data}").encode())
    sock.settimeout(120)
    received = b""
    while b"data: " not in received:
        piece = sock.recv(4096)
        if not piece:
            break
        received += piece
    return sock, received


def read_rest(sock, received):
    """The stream's bytes to its end."""
    while True:
        piece = sock.recv(65536)
        if not piece:
            return received
        received += piece
