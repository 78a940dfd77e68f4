# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Traffic probes, run inside a lab namespace.

    whoami.py serve PORT LIFETIME   TCP server: answers every connection with the peer address
                                    it saw, one line; prints "ready", exits after LIFETIME s
    whoami.py ask ADDR PORT         TCP client: prints the line the server answered
    whoami.py ping ADDR             one ICMP echo (raw socket); prints the RTT in ms
All exit 1 (with a message on stderr) when the peer does not answer in time.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import time


def serve(port, lifetime):
    deadline = time.monotonic() + float(lifetime)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", int(port)))
    server.listen(64)
    print("ready", flush=True)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return 0
        server.settimeout(left)
        try:
            conn, peer = server.accept()
        except socket.timeout:
            return 0
        with conn:
            conn.sendall((peer[0] + "\n").encode())


def ask(addr, port, timeout=3.0):
    with socket.create_connection((addr, int(port)), timeout=float(timeout)) as conn:
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(256)
            if not chunk:
                break
            data += chunk
    print(data.decode().strip())
    return 0


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def ping(addr, timeout=2.0):
    ident = os.getpid() & 0xFFFF
    payload = b"crossnet-lab"
    header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, 1) + payload
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    start = time.monotonic()
    sock.sendto(packet, (addr, 0))
    while True:
        left = start + float(timeout) - time.monotonic()
        if left <= 0:
            raise socket.timeout("no echo reply from %s" % addr)
        sock.settimeout(left)
        data, peer = sock.recvfrom(2048)
        ihl = (data[0] & 0x0F) * 4
        kind, rid = data[ihl], struct.unpack("!H", data[ihl + 4:ihl + 6])[0]
        if kind == 0 and rid == ident and peer[0] == addr:
            print("%.3f" % ((time.monotonic() - start) * 1000))
            return 0


def main(argv):
    commands = {"serve": serve, "ask": ask, "ping": ping}
    try:
        return commands[argv[0]](*argv[1:])
    except (OSError, socket.timeout) as exc:
        print("%s: %s" % (argv[0], exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
