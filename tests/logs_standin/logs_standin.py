#!/usr/bin/env python3
"""Stand-in for the orchestrator's log service (SPEC §2 `LOGS_BASE_URL`): `GET /jobs/{request_id}/logs` answers
the file `{DIR}/{request_id}.log` (200, text/plain), or the status written in `{DIR}/{request_id}.status` (e.g.
404, 500), or 404. Tests put files there; nothing else to control. Standard library only.

    python3 logs_standin.py --dir DIR [--host 127.0.0.1] --port N     prints "ready" once listening
"""
import argparse
import os
import re
import shutil
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH = re.compile(r"^/jobs/([A-Za-z0-9._-]{1,128})/logs$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    directory = "."

    def setup(self):
        super().setup()
        # Headers and body are separate writes: without TCP_NODELAY, Nagle and the client's delayed ACK add ~40 ms
        # to every request on a reused connection.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        pass

    def _plain(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        match = PATH.match(self.path.split("?")[0])
        if not match:
            return self._plain(404, "not found\n")
        base = os.path.join(self.directory, match.group(1))
        if os.path.exists(base + ".status"):
            status = int(open(base + ".status").read().strip() or "500")
            return self._plain(status, f"stand-in answers {status}\n")
        if not os.path.exists(base + ".log"):
            return self._plain(404, "no such log\n")
        size = os.path.getsize(base + ".log")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        with open(base + ".log", "rb") as f:
            shutil.copyfileobj(f, self.wfile, 1 << 16)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    Handler.directory = args.dir
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
