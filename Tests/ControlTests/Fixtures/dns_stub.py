"""A tiny authoritative DNS server on loopback UDP for names under lookout.test.

    dns_stub.py --log FILE

`ip-A-B-C-D.lookout.test` answers A.B.C.D, any other name under lookout.test answers 127.0.0.1,
`nx-*` and names outside lookout.test answer NXDOMAIN; AAAA questions get no data. Every
question is logged ({"name", "type"}), so a test can tell the resolver asked this server.
"""
import argparse
import socket
import struct

from fixture_common import Log, announce, exit_when_stdin_closes


def parse_question(packet):
    labels = []
    offset = 12
    while True:
        length = packet[offset]
        offset += 1
        if length == 0:
            break
        labels.append(packet[offset : offset + length].decode("ascii", "replace"))
        offset += length
    qtype, qclass = struct.unpack("!HH", packet[offset : offset + 4])
    return ".".join(labels).lower(), qtype, packet[12 : offset + 4]


def answer(packet, log):
    ident, flags = struct.unpack("!HH", packet[:4])
    name, qtype, question = parse_question(packet)
    log.write({"name": name, "type": {1: "A", 28: "AAAA"}.get(qtype, str(qtype))})
    rcode = 0
    answers = b""
    count = 0
    first = name.split(".", 1)[0]
    if not name.endswith("lookout.test") or first.startswith("nx-"):
        rcode = 3
    elif qtype == 1:
        address = "127.0.0.1"
        if first.startswith("ip-"):
            address = ".".join(first[3:].split("-"))
        answers = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(address)
        count = 1
    response_flags = 0x8400 | (flags & 0x0100) | rcode  # QR, AA, RD copied
    return struct.pack("!HHHHHH", ident, response_flags, 1, count, 0, 0) + question + answers


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    log = Log(args.log)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    announce(sock.getsockname()[1])
    exit_when_stdin_closes(sock.close)
    while True:
        packet, peer = sock.recvfrom(4096)
        try:
            sock.sendto(answer(packet, log), peer)
        except Exception:
            pass


if __name__ == "__main__":
    main()
