# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Traffic probes, run inside a lab namespace.

    whoami.py serve PORT LIFETIME [stdin [NETNS ...]]
                                    TCP server: answers every connection with the peer address
                                    it saw, one line; prints "ready".  Listens on IPv4 and on
                                    IPv6 (two sockets; an IPv6 peer is answered with its IPv6
                                    address, an IPv4 one with its IPv4 address; IPv6 is skipped
                                    in a namespace without it).  With "stdin" it lives
                                    until its standard input reaches EOF (the process that
                                    started it closed the pipe, or is gone); LIFETIME seconds
                                    only bound it should that never happen.  Without "stdin"
                                    it exits after LIFETIME seconds.  NETNS: listen in these
                                    namespaces (/run/netns/NETNS; "." is its own) instead of
                                    only its own: one process serves a host and its containers.
    whoami.py ask ADDR PORT [TIMEOUT]
                                    TCP client: prints the line the server answered
    whoami.py ping ADDR [TIMEOUT]   one ICMP (ICMPv6 for an IPv6 ADDR) echo (raw socket); prints
                                    the RTT in ms
    whoami.py sweep PORT TIMEOUT ADDR [ADDR ...]
                                    for every ADDR one ICMP echo (all sent at once, replies
                                    matched on id, sequence and sender; IPv4 and IPv6 ADDRs
                                    mixed) and one TCP ask (a few
                                    at a time); prints one JSON line per ADDR, in order:
                                    {"address", "ping_ms", "seen", "error"} (null: no answer).
                                    TIMEOUT bounds each ask; the echo replies are waited for
                                    min(2, TIMEOUT) s, so a dead address costs a few seconds.
All but sweep exit 1 (with a message on stderr) when the peer does not answer in time.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import errno as errnos
import ipaddress
import json
import os
import select
import socket
import struct
import sys
import time

BACKLOG = 1024  # connections waiting for the server (the kernel caps it at net.core.somaxconn)
PING_TIMEOUT = 2.0  # how long a sweep waits for echo replies at most
PING_BATCH = 4096  # echoes in flight at once (distinct sequence numbers)
ASKERS = 8  # TCP asks of one sweep at once
NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
# Linux values where the socket module lacks the names (x86 and asm-generic).
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def _setns(fd):
    if hasattr(os, "setns"):  # Python 3.12
        os.setns(fd, CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


# An IPv6 socket cannot be made or bound in a namespace (or kernel) without IPv6.
NO_IPV6 = {errnos.EAFNOSUPPORT, errnos.EADDRNOTAVAIL, errnos.EPROTONOSUPPORT}


def _listener(port):
    """Listening sockets on PORT: IPv4, and IPv6 (IPV6_V6ONLY: an IPv4 peer is seen by the IPv4
    socket as itself, never as ::ffff:a.b.c.d) unless the namespace has no IPv6."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", int(port)))
    server.listen(BACKLOG)
    server.setblocking(False)
    servers = [server]
    try:
        server6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError as exc:
        if exc.errno in NO_IPV6:
            return servers
        raise
    try:
        server6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        server6.bind(("::", int(port)))
        server6.listen(BACKLOG)
    except OSError as exc:
        server6.close()
        if exc.errno in NO_IPV6:
            return servers
        server.close()
        raise
    server6.setblocking(False)
    return servers + [server6]


def _listeners(port, namespaces):
    """Listening sockets in each namespace (a socket stays in the namespace it was made in)."""
    if not namespaces:
        return _listener(port)
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    servers = []
    try:
        for name in namespaces:
            if name == ".":
                servers.extend(_listener(port))
                continue
            try:
                target = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY)
            except OSError as exc:
                raise OSError(exc.errno, "network namespace %s: %s" % (name, exc.strerror)) from None
            try:
                _setns(target)
                servers.extend(_listener(port))
            finally:
                _setns(own)
                os.close(target)
    finally:
        os.close(own)
    return servers


def serve(port, lifetime, until=None, *namespaces):
    deadline = time.monotonic() + float(lifetime)
    watched = [sys.stdin] if until == "stdin" else []
    servers = _listeners(port, namespaces)
    print("ready", flush=True)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return 0
        readable = select.select(servers + watched, [], [], left)[0]
        if sys.stdin in readable and not os.read(sys.stdin.fileno(), 4096):
            return 0  # whoever started us is done, or gone
        for server in readable:
            if server is not sys.stdin:
                _answer(server)


def _answer(server):
    """Answer the connections waiting; a client that went away costs nothing but itself."""
    while True:
        try:
            conn, peer = server.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # e.g. ECONNABORTED: the next select finds the others
        with conn:
            try:
                conn.setblocking(True)
                conn.settimeout(3.0)
                conn.sendall((peer[0] + "\n").encode())
            except OSError:
                pass


def _ask(addr, port, timeout=3.0):
    with socket.create_connection((addr, int(port)), timeout=float(timeout)) as conn:
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(256)
            if not chunk:
                break
            data += chunk
    return data.decode().strip()


def ask(addr, port, timeout=3.0):
    print(_ask(addr, port, timeout))
    return 0


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


ECHO_REQUEST = {4: 8, 6: 128}
ECHO_REPLY = {4: 0, 6: 129}


def _echo(ident, sequence, version=4):
    """An echo request; ICMPv6's checksum (over a pseudo-header) is the kernel's to fill in."""
    payload = b"crossnet-lab"
    header = struct.pack("!BBHHH", ECHO_REQUEST[version], 0, 0, ident, sequence)
    checksum = _checksum(header + payload) if version == 4 else 0
    return struct.pack("!BBHHH", ECHO_REQUEST[version], 0, checksum, ident, sequence) + payload


def _version(addr):
    try:
        return ipaddress.ip_address(addr).version
    except ValueError:
        return 4  # let the IPv4 socket say what is wrong with it


def _received_at(ancdata):
    """The kernel's receive time (CLOCK_REALTIME) of a packet, else now: the RTT does not
    grow while the sweep is busy sending or scheduled out."""
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack("@ll", data[:16])
            return seconds + nanoseconds / 1e9
    return time.time()


def _icmp_socket(version):
    if version == 4:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    else:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    try:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            pass
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _pings(addrs, timeout=PING_TIMEOUT):
    """One ICMP echo to each address (at most 65535; IPv4 and IPv6 mixed, one raw socket per
    family), all at once; ({address: RTT in ms or None}, {address: why there is no RTT})."""
    ident = os.getpid() & 0xFFFF
    rtt = {addr: None for addr in addrs}
    errors = {addr: "no echo reply from %s" % addr for addr in addrs}
    sent = {}  # sequence: (address, send time)
    socks = {}  # IP version: raw socket
    for version in sorted({_version(addr) for addr in addrs}):
        try:
            socks[version] = _icmp_socket(version)
        except OSError as exc:
            errors.update({addr: str(exc) for addr in addrs if _version(addr) == version})
    waiting = {addr for addr in addrs if _version(addr) in socks}
    versions = {sock: version for version, sock in socks.items()}

    def receive(sock):
        try:
            data, ancdata, _flags, peer = sock.recvmsg(2048, socket.CMSG_SPACE(16))
        except (BlockingIOError, InterruptedError):
            return
        version = versions[sock]
        start = (data[0] & 0x0F) * 4 if version == 4 else 0  # an IPv6 raw socket gets no IP header
        if len(data) < start + 8:
            return
        kind, rid, sequence = data[start], *struct.unpack("!HH", data[start + 4:start + 8])
        addr, started = sent.get(sequence, (None, 0.0))
        peer_addr = peer[0].split("%", 1)[0]
        if addr is not None and version == 6:
            peer_addr = str(ipaddress.ip_address(peer_addr))
            addr_seen = str(ipaddress.ip_address(addr))
        else:
            addr_seen = addr
        if kind == ECHO_REPLY[version] and rid == ident and addr is not None and peer_addr == addr_seen \
                and rtt[addr] is None:
            rtt[addr] = max(0.0, (_received_at(ancdata) - started) * 1000)
            errors.pop(addr, None)
            waiting.discard(addr)

    def drain():
        for sock in select.select(list(socks.values()), [], [], 0)[0]:
            while select.select([sock], [], [], 0)[0]:
                receive(sock)

    try:
        for sequence, addr in enumerate(addrs, start=1):
            version = _version(addr)
            if version not in socks:
                continue
            sent[sequence] = (addr, time.time())
            try:
                socks[version].sendto(_echo(ident, sequence, version), (addr, 0))
            except OSError as exc:
                errors[addr] = "%s: %s" % (addr, exc)  # no route, say
                waiting.discard(addr)
            drain()  # replies already in: read them as we go
        deadline = time.monotonic() + float(timeout)
        while waiting:
            left = deadline - time.monotonic()
            readable = select.select(list(socks.values()), [], [], left)[0] if left > 0 else []
            if not readable:
                break
            for sock in readable:
                receive(sock)
    finally:
        for sock in socks.values():
            sock.close()
    return rtt, errors


def ping(addr, timeout=PING_TIMEOUT):
    rtt, errors = _pings([addr], timeout)
    if rtt[addr] is None:
        raise socket.timeout(errors[addr])
    print("%.3f" % rtt[addr])
    return 0


def sweep(port, timeout, *addrs):
    """Ping every address (all at once), then ask each (ASKERS at a time)."""
    timeout = float(timeout)
    addrs = list(dict.fromkeys(addrs))
    rtt, ping_errors = {}, {}
    for first in range(0, len(addrs), PING_BATCH):
        got, failed = _pings(addrs[first:first + PING_BATCH], min(PING_TIMEOUT, timeout))
        rtt.update(got)
        ping_errors.update(failed)

    def asked(addr):
        try:
            return addr, _ask(addr, port, timeout), None
        except OSError as exc:
            return addr, None, "ask: %s" % (str(exc) or type(exc).__name__)

    with concurrent.futures.ThreadPoolExecutor(ASKERS) as pool:
        for addr, seen, error in pool.map(asked, addrs):
            if rtt[addr] is None:
                error = " ".join(filter(None, ["ping: %s" % ping_errors[addr], error]))
            print(json.dumps({"address": addr, "ping_ms": None if rtt[addr] is None else round(rtt[addr], 3),
                              "seen": seen or None, "error": error}), flush=True)
    return 0


def main(argv):
    commands = {"serve": serve, "ask": ask, "ping": ping, "sweep": sweep}
    try:
        return commands[argv[0]](*argv[1:])
    except (OSError, socket.timeout) as exc:
        print("%s: %s" % (argv[0], exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
