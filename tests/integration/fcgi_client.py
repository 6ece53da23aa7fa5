"""A minimal FastCGI client (responder role), so tests can talk to solstice-fcgi without a web server: over TCP
(--listen host:port) or a unix socket (spawn-fcgi). Protocol: https://fastcgi-archives.github.io/FastCGI_Specification.html"""
import socket
import struct

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 3, 4, 5, 6, 7


def _record(kind, content, request_id=1):
    return struct.pack(">BBHHBx", 1, kind, request_id, len(content), 0) + content


def _length(n):
    return struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)


def _params(params):
    return b"".join(_length(len(k)) + _length(len(v)) + k + v
                    for k, v in ((k.encode(), v.encode()) for k, v in params.items()))


def _encode(params, body=b"", request_id=1, keep=False):
    """One request as a web server sends it: BEGIN_REQUEST (FCGI_KEEP_CONN if `keep`), PARAMS and STDIN in records of
    at most 65535 bytes, each stream ended by an empty record."""
    out = _record(BEGIN_REQUEST, struct.pack(">HB5x", 1, 1 if keep else 0), request_id)
    encoded = _params(params)
    for i in range(0, len(encoded), 65535):
        out += _record(PARAMS, encoded[i:i + 65535], request_id)
    out += _record(PARAMS, b"", request_id)
    for i in range(0, len(body), 65535):
        out += _record(STDIN, body[i:i + 65535], request_id)
    return out + _record(STDIN, b"", request_id)


def _read_answer(s, buffer):
    """Reads records up to END_REQUEST: (stdout, whether END_REQUEST came, the bytes read past it)."""
    stdout = b""
    while True:
        while len(buffer) < 8 or len(buffer) < 8 + struct.unpack(">H", buffer[4:6])[0] + buffer[6]:
            chunk = s.recv(65536)
            if not chunk:
                return stdout, False, buffer
            buffer += chunk
        _, kind, _, length, padding = struct.unpack(">BBHHB", buffer[:7])
        content, buffer = buffer[8:8 + length], buffer[8 + length + padding:]
        if kind == STDOUT:
            stdout += content
        elif kind == END_REQUEST:
            return stdout, True, buffer


def request(address, params, body=b"", timeout=10):
    """Sends one request; returns (status, headers dict, body bytes)."""
    if isinstance(address, tuple):
        s = socket.create_connection(address, timeout=timeout)
    else:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(address)
    with s:
        s.sendall(_encode(params, body))
        stdout, _, _ = _read_answer(s, b"")
        return _parse(stdout)


def kept_requests(address, requests, timeout=10):
    """Sends each (params, body) over one connection with FCGI_KEEP_CONN, as nginx's `fastcgi_keep_conn on` does,
    each after the previous answer; returns the (status, headers, body) of each until the responder closed."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(address)
    answers = []
    with s:
        buffer = b""
        for request_id, (params, body) in enumerate(requests, start=1):
            try:
                s.sendall(_encode(params, body, request_id, keep=True))
            except OSError:
                return answers
            stdout, ended, buffer = _read_answer(s, buffer)
            if not ended:
                return answers
            answers.append(_parse(stdout))
    return answers


def _parse(stdout):
    head, _, body = stdout.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode().split("\r\n"):
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    status = int(headers.get("status", "200").split()[0])
    return status, headers, body
