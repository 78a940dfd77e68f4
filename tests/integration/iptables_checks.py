# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the masquerade/forwarding integration tests: read iptables inside a sandbox
(independently of the module code under test) and route traffic through it."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time

BACKENDS = ["nft", "legacy"]
OWNED = "CROSSNET-"

# Two "containers" behind the sandbox host, each on its own /24 (the host is .1).
LEFT = {"netns": "cnt2-left", "host_if": "cnt2-l-host", "net": "10.77.1.0/24",
        "host_ip": "10.77.1.1", "ip": "10.77.1.2"}
RIGHT = {"netns": "cnt2-right", "host_if": "cnt2-r-host", "net": "10.77.2.0/24",
         "host_ip": "10.77.2.1", "ip": "10.77.2.2"}


def ipt(box, backend, *args):
    """Run ``iptables-<backend> args`` in the sandbox; fail the test if it fails."""
    proc = box.run(["iptables-" + backend, "-w"] + list(args))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def save(box, backend, table):
    proc = box.run(["iptables-%s-save" % backend, "-t", table])
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def foreign(box, backend, table):
    """The table without comments, counters and anything that names one of our chains."""
    kept = []
    for line in save(box, backend, table).splitlines():
        if line.startswith("#") or OWNED in line:
            continue
        if line.startswith(":"):
            line = " ".join(line.split()[:2])
        kept.append(line)
    return kept


def ours(box, backend, table):
    """Rule lines that name one of our chains (jumps and chain contents), in save order."""
    return [line for line in save(box, backend, table).splitlines()
            if line.startswith("-A") and OWNED in line]


def first_rule(box, backend, table, chain):
    for line in save(box, backend, table).splitlines():
        if line.startswith("-A %s " % chain):
            return line
    return None


def nft_tables(box):
    """Names of the sandbox's nftables ``ip`` tables (what iptables-nft writes into)."""
    proc = box.run(["nft", "-j", "list", "tables", "ip"])
    assert proc.returncode == 0, proc.stderr
    return sorted(item["table"]["name"] for item in json.loads(proc.stdout)["nftables"]
                  if "table" in item)


def state_file(box, name="iptables.json"):
    """The JSON state file ``/var/lib/crossnet/<name>`` of the sandbox, or None."""
    proc = box.run(["cat", "/var/lib/crossnet/" + name])
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def sysctl(box, name):
    proc = box.run(["cat", "/proc/sys/" + name.replace(".", "/")])
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _must(box, argv):
    proc = box.run(argv)
    assert proc.returncode == 0, "%s: %s" % (argv, proc.stderr)


@contextlib.contextmanager
def two_containers(box):
    """LEFT and RIGHT namespaces, each wired to the sandbox host by a veth, default route via
    the host.  The sandbox host is the router between them; always removed."""
    try:
        for side in (LEFT, RIGHT):
            ns = side["netns"]
            _must(box, ["ip", "netns", "add", ns])
            _must(box, ["ip", "link", "add", side["host_if"], "type", "veth",
                        "peer", "name", "eth0", "netns", ns])
            _must(box, ["ip", "addr", "add", side["host_ip"] + "/24", "dev", side["host_if"]])
            _must(box, ["ip", "link", "set", side["host_if"], "up"])
            _must(box, ["ip", "-n", ns, "link", "set", "lo", "up"])
            _must(box, ["ip", "-n", ns, "addr", "add", side["ip"] + "/24", "dev", "eth0"])
            _must(box, ["ip", "-n", ns, "link", "set", "eth0", "up"])
            _must(box, ["ip", "-n", ns, "route", "add", "default", "via", side["host_ip"]])
        yield LEFT, RIGHT
    finally:
        for side in (LEFT, RIGHT):
            box.run(["ip", "netns", "del", side["netns"]])


_SERVER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 7777))
s.settimeout(float(sys.argv[1]))
print("ready", flush=True)
try:
    data, peer = s.recvfrom(100)
    print(peer[0], flush=True)
except socket.timeout:
    print("timeout", flush=True)
"""

_CLIENT = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(10):
    try:
        s.sendto(b"x", (sys.argv[1], 7777))
    except OSError:
        pass
    time.sleep(0.1)
"""


def udp_source(box, src, dst, timeout=2.0):
    """Send UDP from ``src`` to ``dst``'s address; return the source address ``dst`` saw, or
    None when nothing arrived."""
    server = subprocess.Popen(
        ["nsenter", "-t", str(box.pid), "-n", "-m", "--", "ip", "netns", "exec", dst["netns"],
         "python3", "-c", _SERVER, str(timeout)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready", server.stderr.read()
        box.run(["ip", "netns", "exec", src["netns"], "python3", "-c", _CLIENT, dst["ip"]])
        answer = server.stdout.readline().strip()
    finally:
        deadline = time.time() + timeout + 5
        while server.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        if server.poll() is None:
            server.kill()
        server.wait()
        server.stdout.close()
        server.stderr.close()
    return None if answer == "timeout" else answer
