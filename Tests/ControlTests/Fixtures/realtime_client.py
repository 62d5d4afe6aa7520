"""Live-update clients for the end-to-end tests, run with the project virtualenv's Python
(.local/venv, made by scripts/setup) and started by the test like every fixture.

    realtime_client.py --log FILE --mode socketio --url http://127.0.0.1:PORT --token T --monitor M [--foreign F]
    realtime_client.py --log FILE --mode ws       --url http://127.0.0.1:PORT --token T --monitor M [--foreign F]
    realtime_client.py --log FILE --mode stalled  --url http://127.0.0.1:PORT --token T --monitor M --path /ws|/socket.io/

socketio: a stock Socket.IO client (python-socketio's socketio.Client, transports=['websocket'],
the token in the auth payload); ws: a plain WebSocket client (websocket-client) speaking /ws.
Both subscribe to monitor M (and try the foreign monitor F, which must be refused), then log every
`check:update` and `incident:update` with the time it arrived, until stdin closes.

stalled: a raw TCP socket with a small receive buffer that completes the handshake, subscribes to
M and then stops reading. When the test writes "read" on stdin it reads everything the server
sent (the kernel kept it) up to the end of the connection, and logs how many messages it got and
the close frame's code and reason.

Prints `READY 0` once subscribed.
"""
import argparse
import base64
import json
import os
import socket
import struct
import sys
import threading
import time

from fixture_common import Log, announce, exit_when_stdin_closes


def run_socketio(args, log):
    import socketio

    sio = socketio.Client(reconnection=False)

    def on(event):
        def handler(data):
            log.write({"kind": "event", "event": event, "data": data, "receivedAt": time.time()})

        sio.on(event, handler)

    on("check:update")
    on("incident:update")
    on("error")

    @sio.event
    def disconnect(*reason):
        log.write({"kind": "disconnected", "receivedAt": time.time()})

    sio.connect(args.url, transports=["websocket"], auth={"token": args.token}, wait_timeout=15)
    log.write({"kind": "connected", "sid": sio.sid, "transport": sio.transport()})
    reply = sio.call("subscribe:monitor", {"monitorId": args.monitor}, timeout=15)
    log.write({"kind": "ack", "monitorId": args.monitor, "reply": reply})
    if args.foreign:
        reply = sio.call("subscribe:monitor", {"monitorId": args.foreign}, timeout=15)
        log.write({"kind": "ack", "monitorId": args.foreign, "reply": reply})
    announce(0)
    exit_when_stdin_closes(lambda: sio.disconnect())
    sio.wait()


def run_ws(args, log):
    import websocket

    url = args.url.replace("http://", "ws://") + "/ws?token=" + args.token
    ws = websocket.create_connection(url, timeout=15)

    def receive():
        message = json.loads(ws.recv())
        log.write({"kind": "message", "message": message, "receivedAt": time.time()})
        return message

    ready = receive()
    assert ready.get("type") == "ready", ready
    ws.send(json.dumps({"type": "subscribe:monitor", "monitorId": args.monitor}))
    while receive().get("type") != "subscribed":
        pass
    if args.foreign:
        ws.send(json.dumps({"type": "subscribe:monitor", "monitorId": args.foreign}))
        while receive().get("type") != "error":
            pass
    announce(0)
    exit_when_stdin_closes(lambda: ws.close())
    ws.settimeout(None)
    while True:
        try:
            receive()
        except Exception as error:  # the connection ended
            log.write({"kind": "closed", "error": str(error), "receivedAt": time.time()})
            return


class RawWebSocket:
    """Just enough of RFC 6455 for a client that decides itself when to read."""

    def __init__(self, url, path):
        host, port = url.replace("http://", "").split(":")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A small window: the server's writes back up after a few kilobytes.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("no upgrade answer")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("upgrade refused: " + head.decode(errors="replace"))

    def send_text(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        else:
            header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _need(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError()
            self.buffer += chunk

    def frame(self):
        """(opcode, payload bytes) of the next frame."""
        self._need(2)
        opcode = self.buffer[0] & 0x0F
        length = self.buffer[1] & 0x7F
        offset = 2
        if length == 126:
            self._need(4)
            length = struct.unpack("!H", self.buffer[2:4])[0]
            offset = 4
        elif length == 127:
            self._need(10)
            length = struct.unpack("!Q", self.buffer[2:10])[0]
            offset = 10
        self._need(offset + length)
        payload = self.buffer[offset:offset + length]
        self.buffer = self.buffer[offset + length:]
        return opcode, payload

    def text(self):
        while True:
            opcode, payload = self.frame()
            if opcode == 0x9:  # ping: answer it, the connection must look alive
                continue
            if opcode == 0x8:
                raise RuntimeError("closed early: " + repr(payload))
            return payload.decode()


def run_stalled(args, log):
    ws = RawWebSocket(args.url, args.path + ("?EIO=4&transport=websocket" if "socket.io" in args.path else ""))
    if "socket.io" in args.path:
        assert ws.text().startswith("0{"), "no Engine.IO open packet"
        ws.send_text("40" + json.dumps({"token": args.token}))
        connected = ws.text()
        assert connected.startswith("40{"), connected
        ws.send_text("421" + json.dumps(["subscribe:monitor", {"monitorId": args.monitor}]))
        while True:
            reply = ws.text()
            if reply.startswith("431"):
                break
        assert json.loads(reply[3:])[0]["ok"] is True, reply
    else:
        ws.send_text(json.dumps({"type": "auth", "token": args.token}))
        assert json.loads(ws.text())["type"] == "ready"
        ws.send_text(json.dumps({"type": "subscribe:monitor", "monitorId": args.monitor}))
        assert json.loads(ws.text())["type"] == "subscribed"
    log.write({"kind": "subscribed", "receivedAt": time.time()})
    announce(0)
    # Stop reading until told to.
    for line in sys.stdin:
        if line.strip() == "read":
            break
    else:
        os._exit(0)
    ws.sock.settimeout(30)
    messages = 0
    close = None
    try:
        while True:
            opcode, payload = ws.frame()
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                close = {"code": code, "reason": payload[2:].decode(errors="replace")}
                break
            if opcode in (0x1, 0x2):
                messages += 1
    except (EOFError, OSError) as error:
        log.write({"kind": "ended", "error": repr(error)})
    log.write({"kind": "drained", "messages": messages, "close": close, "receivedAt": time.time()})
    for _ in sys.stdin:
        pass
    os._exit(0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--mode", required=True, choices=["socketio", "ws", "stalled"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--monitor", type=int, required=True)
    parser.add_argument("--foreign", type=int)
    parser.add_argument("--path", default="/ws")
    args = parser.parse_args()
    log = Log(args.log)
    try:
        {"socketio": run_socketio, "ws": run_ws, "stalled": run_stalled}[args.mode](args, log)
    except Exception as error:
        sys.stderr.write(f"realtime_client {args.mode}: {error!r}\n")
        sys.stderr.flush()
        os._exit(1)


if __name__ == "__main__":
    main()
