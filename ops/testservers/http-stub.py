#!/usr/bin/env python3
"""A local HTTP server for Ferry's tests: it stands in for services on the internet.

Routes:
  GET|POST|PUT|DELETE /echo         JSON of the request: method, path, query, headers, body
  ANY /status/<code>                answers with that status and a short text body
  ANY /delay/<ms>                   waits, then answers 200
  GET /bytes/<n>                    n bytes of 'x'
  GET /headers?name=value&...       answers 200 with those response headers
  PUT /files/<name>                 keeps the body (in memory) as that file
  /anthropic/...                    a stand-in for Anthropic's Messages API (see anthropic_stub.py)
  GET /files/<name>                 the file, honouring "Range: bytes=N-" (206) unless ?ranges=ignore;
                                    ?drop_after=N closes the connection after N bytes of the body
"""
import re
import threading

import anthropic_stub
import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


FILES = {}
FILES_LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ferry-http-stub/1"

    def log_message(self, fmt, *args):  # keep test logs quiet
        pass

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, body, content_type="text/plain", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _route(self):
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        body = self._body()
        if parts[:1] == ["echo"]:
            payload = {
                "method": self.command,
                "path": url.path,
                "query": dict(parse_qsl(url.query)),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
            }
            return self._send(200, json.dumps(payload).encode(), "application/json")
        if parts[:1] == ["status"] and len(parts) == 2 and parts[1].isdigit():
            code = int(parts[1])
            return self._send(code, f"status {code}\n".encode())
        if parts[:1] == ["delay"] and len(parts) == 2 and parts[1].isdigit():
            time.sleep(int(parts[1]) / 1000)
            return self._send(200, b"slept\n")
        if parts[:1] == ["bytes"] and len(parts) == 2 and parts[1].isdigit():
            return self._send(200, b"x" * int(parts[1]), "application/octet-stream")
        if parts[:1] == ["anthropic"]:
            return anthropic_stub.handle(self, self.command, parts[1:], body)
        if parts[:1] == ["files"] and len(parts) == 2:
            return self._file(parts[1], dict(parse_qsl(url.query)), body)
        if parts[:1] == ["headers"]:
            return self._send(200, b"ok\n", headers=parse_qsl(url.query))
        return self._send(404, b"no such route\n")

    def _file(self, name, query, body):
        if self.command == "PUT":
            with FILES_LOCK:
                FILES[name] = body
            return self._send(201, b"stored\n")
        with FILES_LOCK:
            data = FILES.get(name)
        if data is None:
            return self._send(404, b"no such file\n")
        total, start, status, headers = len(data), 0, 200, [("Accept-Ranges", "bytes")]
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
        if wanted and query.get("ranges") != "ignore":
            start = int(wanted.group(1))
            end = int(wanted.group(2)) + 1 if wanted.group(2) else len(data)
            if start >= len(data):
                return self._send(416, b"", headers=[("Content-Range", f"bytes */{total}")])
            end = min(end, total)
            data, status = data[start:end], 206
            headers.append(("Content-Range", f"bytes {start}-{start + len(data) - 1}/{total}"))
        if "drop_after" in query:
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            for header in headers:
                self.send_header(*header)
            self.end_headers()
            self.wfile.write(data[: int(query["drop_after"])])
            self.wfile.flush()
            self.close_connection = True
            return None
        return self._send(status, data, "text/csv", headers)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _route


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=18080)
    args = parser.parse_args()
    # Room for hundreds of clients connecting at once (the default backlog is 5).
    ThreadingHTTPServer.request_queue_size = 1024
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
