"""The kernel-side HTTP server of the conformance tests (run inside the test's namespace):
GET serves files from a folder, POST answers with the sha256 of the body it read.

Usage: ``python3 kernel_http.py ADDR PORT DIR``; prints ``listening`` once bound.
"""

from __future__ import annotations

import hashlib
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


class Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", "0"))
        digest, left = hashlib.sha256(), length
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
        body = f"{length - left} {digest.hexdigest()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    addr, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    server = ThreadingHTTPServer((addr, port), partial(Handler, directory=root))
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
