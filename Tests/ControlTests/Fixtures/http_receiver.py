"""A loopback HTTP receiver standing in for webhook endpoints and the Telegram Bot API.

    http_receiver.py --log FILE [--script JSON] [--secret SECRET]

--script maps a path (or "*") to a list of answers, used in order; the last one repeats:
    {"/hook": [{"status": 503, "headers": {"Retry-After": "7"}}, {"status": 200}]}
An answer has "status", "headers", "body" (text) and "delayMs" (wait before answering).
Default: 200 with {"ok":true}.

Each request is noted on arrival in FILE.arrivals (before any delay: a test can wait until its
request is being handled) and, once answered, becomes one JSON line in FILE: method, path, headers (lower-case names), body, how many
requests were being handled at once when it arrived, and, with --secret, whether its
X-Lookout-Signature is the HMAC-SHA256 of "<X-Lookout-Timestamp>.<body>" (checked here with
Python's hmac module, independently of Lookout).
"""
import argparse
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fixture_common import Log, announce, exit_when_stdin_closes

state = {"active": 0}
lock = threading.Lock()


def make_handler(log, arrivals, script, secret):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            arrivals.write({"path": path})
            with lock:
                state["active"] += 1
                concurrent = state["active"]
                answers = script.get(path) or script.get("*") or [{}]
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
            signature_valid = None
            if secret is not None:
                timestamp = self.headers.get("X-Lookout-Timestamp", "")
                expected = "sha256=" + hmac.new(
                    secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
                ).hexdigest()
                signature_valid = hmac.compare_digest(expected, self.headers.get("X-Lookout-Signature", ""))
            time.sleep(answer.get("delayMs", 0) / 1000)
            log.write(
                {
                    "method": self.command,
                    "path": path,
                    "headers": {name.lower(): value for name, value in self.headers.items()},
                    "body": body.decode("utf-8", "replace"),
                    "concurrent": concurrent,
                    "signatureValid": signature_valid,
                }
            )
            with lock:
                state["active"] -= 1
            payload = answer.get("body", '{"ok":true}').encode()
            if "repeatBody" in answer:
                payload = payload * int(answer["repeatBody"])
            self.send_response(answer.get("status", 200))
            for name, value in answer.get("headers", {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)

        do_GET = handle_any
        do_POST = handle_any
        do_PUT = handle_any

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--script", default="{}")
    parser.add_argument("--secret")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(Log(args.log), Log(args.log + ".arrivals"), json.loads(args.script), args.secret))
    server.daemon_threads = True
    announce(server.server_address[1])
    exit_when_stdin_closes(lambda: None)
    server.serve_forever()


if __name__ == "__main__":
    main()
