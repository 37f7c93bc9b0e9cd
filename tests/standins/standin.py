"""Shared machinery of the stand-in servers (python3 standard library only).

A stand-in is a small HTTP server that speaks one external service's real request, response,
progress and error shapes (see ../shared/reference/services.md) so that the worker's
connectors can be tested on loopback. Each one is started as

    python3 tests/standins/<service>.py --port-file FILE [--port N]

binds 127.0.0.1 (port 0 = any free port), writes the port it got to FILE (atomically) and
serves until killed. Every stand-in also answers a control API that the tests use to break
it on purpose and to see what it was sent:

    POST /_control/fault   {"match": "POST /prompt", "action": ..., "count": 1, ...}
        match:  "METHOD /path-prefix", "/path-prefix" or "" (any request)
        action: "status"  answer with "status", "body" (JSON or string) and "headers"
                "preset"  answer with a named real error of the service ("preset": name)
                "hang"    read the request, then answer nothing for "seconds" (default 30)
                "close"   send headers announcing a body, part of it, then close
                "delay"   wait "seconds", then answer normally
        count:  how many matching requests it applies to (-1 = all)
    POST /_control/config  service settings (merged), e.g. {"step_ms": 50}
    POST /_control/reset   forget faults (settings and state stay)
    GET  /_control/log     every request seen: [{"method", "path", "query", "headers", "body"}]
    GET  /_control/state   the service's own state, for assertions
"""

import argparse
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def png(width=8, height=8, rgb=(200, 100, 50)):
    """A valid RGB PNG of the given size."""
    row = b"\x00" + bytes(rgb) * width
    raw = row * height

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def mp4(size=2048):
    """Bytes that start like an MP4 file (an ftyp box), padded with an mdat box."""
    ftyp = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 0x200) + b"isomiso2"
    mdat = struct.pack(">I", size + 8) + b"mdat" + bytes(size)
    return ftyp + mdat


CONTENT_TYPES = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
    ".gif": "image/gif", ".mp4": "video/mp4", ".webm": "video/webm", ".wav": "audio/wav",
    ".txt": "text/plain",
}


def content_type_for(name):
    return CONTENT_TYPES.get(os.path.splitext(name)[1].lower(), "application/octet-stream")


class Reply:
    """What a route answers."""

    def __init__(self, status=200, body=b"", headers=None, content_type=None):
        self.status = status
        self.headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            content_type = content_type or "application/json"
        elif isinstance(body, str):
            body = body.encode()
            content_type = content_type or "text/plain; charset=utf-8"
        self.body = body
        if content_type:
            self.headers.setdefault("Content-Type", content_type)


def json_reply(obj, status=200, headers=None):
    return Reply(status, json.dumps(obj).encode(), headers, "application/json")


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address):
        super().__init__(address, Handler)
        self.lock = threading.RLock()
        self.faults = []
        self.log = []
        self.settings = dict(self.default_settings())
        self.setup()

    # ---- for the services to override ----
    def default_settings(self):
        return {}

    def setup(self):
        pass

    def route(self, handler, method, path, query, body):
        return None

    def preset(self, name):
        return None

    def state(self):
        return {}

    def handle_error(self, request, client_address):
        # A client that hangs up (a cancelled or timed-out request) is normal here.
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)

    # ---- helpers ----
    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]

    def setting(self, key):
        with self.lock:
            return self.settings.get(key)

    def take_fault(self, method, path):
        with self.lock:
            for f in self.faults:
                if f.get("count", 1) == 0:
                    continue
                match = f.get("match", "")
                m_method, _, m_path = match.rpartition(" ") if " " in match else ("", "", match)
                if m_method and m_method != method:
                    continue
                if not path.startswith(m_path):
                    continue
                if f.get("count", 1) > 0:
                    f["count"] = f.get("count", 1) - 1
                return dict(f)
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "standin/1.0"

    def log_message(self, fmt, *args):
        if os.environ.get("STANDIN_VERBOSE"):
            sys.stderr.write("standin: " + fmt % args + "\n")

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def send(self, reply):
        self.send_response(reply.status)
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def dispatch(self, method):
        srv = self.server
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        raw = self.read_body()
        if path.startswith("/_control/"):
            self.send(self.control(method, path, raw))
            return
        try:
            logged_body = json.loads(raw) if raw else None
        except ValueError:
            logged_body = raw.decode("utf-8", "replace")
        with srv.lock:
            srv.log.append({"method": method, "path": path, "query": url.query,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": logged_body, "time": time.time()})
        fault = srv.take_fault(method, path)
        if fault is not None:
            action = fault.get("action", "status")
            if action == "hang":
                deadline = time.time() + float(fault.get("seconds", 30))
                while time.time() < deadline:
                    time.sleep(0.05)
                self.close_connection = True
                return
            if action == "close":
                self.send_response(int(fault.get("status", 200)))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b'{"partial": ')
                self.wfile.flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if action == "delay":
                time.sleep(float(fault.get("seconds", 1)))
            elif action == "preset":
                reply = srv.preset(fault.get("preset"))
                if reply is None:
                    reply = json_reply({"error": "unknown preset %s" % fault.get("preset")}, 500)
                self.send(reply)
                return
            else:
                body = fault.get("body", "")
                if isinstance(body, (dict, list)):
                    reply = json_reply(body, int(fault.get("status", 500)), fault.get("headers"))
                else:
                    reply = Reply(int(fault.get("status", 500)), str(body), fault.get("headers"))
                self.send(reply)
                return
        try:
            reply = srv.route(self, method, path, query, raw)
        except Exception as exc:  # the services answer unexpected errors with a bare 500
            reply = Reply(500, "500 Internal Server Error\n\nServer got itself in trouble: %r" % exc)
        if reply is None:
            reply = json_reply({"detail": "Not Found"}, 404)
        self.send(reply)

    def control(self, method, path, raw):
        srv = self.server
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return json_reply({"error": "control body is not JSON"}, 400)
        with srv.lock:
            if path == "/_control/fault" and method == "POST":
                srv.faults.append(body)
                return json_reply({"ok": True})
            if path == "/_control/config" and method == "POST":
                srv.settings.update(body)
                return json_reply(srv.settings)
            if path == "/_control/reset" and method == "POST":
                srv.faults = []
                if body.get("log"):
                    srv.log = []
                return json_reply({"ok": True})
            if path == "/_control/log":
                return json_reply(srv.log)
            if path == "/_control/state":
                return json_reply(srv.state())
        return json_reply({"error": "unknown control path"}, 404)


def serve(server_class, description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--config", default="{}", help="initial settings (JSON)")
    args = parser.parse_args()
    srv = server_class(("127.0.0.1", args.port))
    srv.settings.update(json.loads(args.config))
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print(port, flush=True)
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
