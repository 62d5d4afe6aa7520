"""Shared by the control-plane test fixtures: the start-up handshake and the exit rule.

Every fixture binds 127.0.0.1 on a port the kernel picks, prints `READY <port>` on stdout, and
exits when its stdin closes (the test process ended or stopped it), so no fixture outlives the
test that started it. Each one appends what it saw to a JSON Lines file, flushed before it answers,
so a test reads the file after its request returned and needs no sleep.
"""
import json
import os
import sys
import threading


def announce(port):
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()


def exit_when_stdin_closes(stop):
    def wait():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            stop()
            os._exit(0)

    threading.Thread(target=wait, daemon=True).start()


class Log:
    """A JSON Lines file, one record per line, flushed at once; safe from several threads."""

    def __init__(self, path):
        self._file = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, record):
        with self._lock:
            self._file.write(json.dumps(record, sort_keys=True) + "\n")
            self._file.flush()
