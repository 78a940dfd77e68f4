# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the masquerade/forwarding integration tests: read iptables and ip6tables inside a
sandbox (independently of the module code under test) and route traffic through it.

The table helpers take ``family=6`` for ip6tables."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time

BACKENDS = ["nft", "legacy"]
OWNED = "CROSSNET-"

# Two "containers" behind the sandbox host, each on its own /24 and /64 (the host is .1/::1).
LEFT = {"netns": "cnt2-left", "host_if": "cnt2-l-host", "net": "10.77.1.0/24",
        "host_ip": "10.77.1.1", "ip": "10.77.1.2",
        "net6": "fd77:1::/64", "host_ip6": "fd77:1::1", "ip6": "fd77:1::2"}
RIGHT = {"netns": "cnt2-right", "host_if": "cnt2-r-host", "net": "10.77.2.0/24",
         "host_ip": "10.77.2.1", "ip": "10.77.2.2",
         "net6": "fd77:2::/64", "host_ip6": "fd77:2::1", "ip6": "fd77:2::2"}


def command(backend, family=4):
    return "%s-%s" % ("iptables" if family == 4 else "ip6tables", backend)


def ipt(box, backend, *args, family=4):
    """Run ``iptables-<backend> args`` (family 6: ip6tables) in the sandbox; fail the test if it
    fails."""
    proc = box.run([command(backend, family), "-w"] + list(args))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def ip6t(box, backend, *args):
    return ipt(box, backend, *args, family=6)


def save(box, backend, table, family=4):
    proc = box.run([command(backend, family) + "-save", "-t", table])
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def snapshot(box, backend, tables, family=4):
    """The tables as -save prints them, without comments and counters: for comparing a whole
    ruleset before and after (ours included)."""
    kept = []
    for table in tables:
        for line in save(box, backend, table, family).splitlines():
            if line.startswith("#"):
                continue
            if line.startswith(":"):
                line = " ".join(line.split()[:2])
            kept.append(line)
    return kept


def foreign(box, backend, table, family=4):
    """The table without comments, counters and anything that names one of our chains."""
    return [line for line in snapshot(box, backend, [table], family) if OWNED not in line]


def ours(box, backend, table, family=4):
    """Rule lines that name one of our chains (jumps and chain contents), in save order."""
    return [line for line in save(box, backend, table, family).splitlines()
            if line.startswith("-A") and OWNED in line]


def first_rule(box, backend, table, chain, family=4):
    for line in save(box, backend, table, family).splitlines():
        if line.startswith("-A %s " % chain):
            return line
    return None


def nft_tables(box, family="ip"):
    """Names of the sandbox's nftables ``ip`` (or ``ip6``) tables (what iptables-nft writes
    into)."""
    proc = box.run(["nft", "-j", "list", "tables", family])
    assert proc.returncode == 0, proc.stderr
    return sorted(item["table"]["name"] for item in json.loads(proc.stdout)["nftables"]
                  if "table" in item)


def hide_ip6tables(box, scratch):
    """Make the sandbox a host without ip6tables: an overlay on its /usr/sbin (/sbin links
    there) whose upper layer, a tmpfs on ``scratch`` mounted inside the sandbox, holds a
    whiteout for every ip6tables* command.  Only the sandbox's mount namespace sees it."""
    names = [name for name in os.listdir("/usr/sbin") if name.startswith("ip6tables")]
    script = ("set -e; mount -t tmpfs crossnet-hide %(s)s; mkdir %(s)s/upper %(s)s/work; "
              "for n in %(names)s; do mknod %(s)s/upper/$n c 0 0; done; "
              "mount -t overlay overlay -o lowerdir=/usr/sbin,upperdir=%(s)s/upper,workdir=%(s)s/work "
              "/usr/sbin" % {"s": scratch, "names": " ".join(names)})
    _must(box, ["sh", "-c", script])
    assert box.run(["sh", "-c", "command -v ip6tables ip6tables-nft-save ip6tables-legacy-save"]).stdout == ""
    assert box.run(["iptables-nft-save", "-t", "nat"]).returncode == 0


def state_file(box, name="iptables.json"):
    """The JSON state file ``/var/lib/crossnet/<name>`` of the sandbox, or None."""
    proc = box.run(["cat", "/var/lib/crossnet/" + name])
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def sysctl(box, name):
    """A sysctl's value: ``name`` dotted, or a /proc/sys path below /proc/sys (``net/ipv6/conf/
    eth0.100/accept_ra``, for interface names with dots)."""
    path = name if "/" in name else name.replace(".", "/")
    proc = box.run(["cat", "/proc/sys/" + path])
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def set_sysctl(box, path, value):
    """Write ``value`` to /proc/sys/``path`` in the sandbox."""
    _must(box, ["sh", "-c", "echo %s > /proc/sys/%s" % (value, path)])


def _must(box, argv):
    proc = box.run(argv)
    assert proc.returncode == 0, "%s: %s" % (argv, proc.stderr)


_NUDGE = """
import socket, sys
socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b"x", (sys.argv[1], 9))
"""


def _neighbours_resolved(box, side):
    """Send to ``side``'s IPv6 address from the sandbox host until the host has resolved it.
    A neighbour solicitation sent the instant a veth comes up can go unanswered (the peer does
    not listen on its solicited-node group yet) and the next is a second later: a test's first
    packets would be lost.  Host-to-container traffic is not forwarded: no FORWARD rule is
    involved.  The solicitation also tells the container the host's link-layer address."""
    for dummy in range(50):
        box.run(["python3", "-c", _NUDGE, side["ip6"]])
        neigh = box.run(["ip", "-6", "neigh", "show", "to", side["ip6"], "dev", side["host_if"]]).stdout
        if "lladdr" in neigh:
            return
        time.sleep(0.1)
    raise AssertionError("%s does not answer neighbour solicitations" % side["ip6"])


@contextlib.contextmanager
def two_containers(box, ipv6=False):
    """LEFT and RIGHT namespaces, each wired to the sandbox host by a veth, default route via
    the host (``ipv6``: also an IPv6 /64 each, without DAD, and an IPv6 default route).  The
    sandbox host is the router between them; always removed."""
    try:
        for side in (LEFT, RIGHT):
            ns = side["netns"]
            _must(box, ["ip", "netns", "add", ns])
            _must(box, ["ip", "link", "add", side["host_if"], "type", "veth",
                        "peer", "name", "eth0", "netns", ns])
            _must(box, ["ip", "addr", "add", side["host_ip"] + "/24", "dev", side["host_if"]])
            if ipv6:
                _must(box, ["ip", "addr", "add", side["host_ip6"] + "/64", "dev", side["host_if"], "nodad"])
            _must(box, ["ip", "link", "set", side["host_if"], "up"])
            _must(box, ["ip", "-n", ns, "link", "set", "lo", "up"])
            _must(box, ["ip", "-n", ns, "addr", "add", side["ip"] + "/24", "dev", "eth0"])
            if ipv6:
                _must(box, ["ip", "-n", ns, "addr", "add", side["ip6"] + "/64", "dev", "eth0", "nodad"])
            _must(box, ["ip", "-n", ns, "link", "set", "eth0", "up"])
            _must(box, ["ip", "-n", ns, "route", "add", "default", "via", side["host_ip"]])
            if ipv6:
                _must(box, ["ip", "-n", ns, "-6", "route", "add", "default", "via", side["host_ip6"]])
        if ipv6:
            for side in (LEFT, RIGHT):
                _neighbours_resolved(box, side)
        yield LEFT, RIGHT
    finally:
        for side in (LEFT, RIGHT):
            box.run(["ip", "netns", "del", side["netns"]])


_SERVER = """
import socket, sys
ipv6 = ":" in sys.argv[2]
s = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[2], 7777))
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
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
if len(sys.argv) > 2:
    s.bind((sys.argv[2], 0))
for _ in range(10):
    try:
        s.sendto(b"x", (sys.argv[1], 7777))
    except OSError:
        pass
    time.sleep(0.1)
"""


def udp_source(box, src, dst, timeout=2.0, family=4, source=None):
    """Send UDP from ``src`` to ``dst``'s address (``family`` 6: IPv6 addresses; ``source``: an
    address of ``src`` to send from); return the source address ``dst`` saw, or None when
    nothing arrived."""
    key = "ip" if family == 4 else "ip6"
    server = subprocess.Popen(
        ["nsenter", "-t", str(box.pid), "-n", "-m", "--", "ip", "netns", "exec", dst["netns"],
         "python3", "-c", _SERVER, str(timeout), "0.0.0.0" if family == 4 else "::"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready", server.stderr.read()
        box.run(["ip", "netns", "exec", src["netns"], "python3", "-c", _CLIENT, dst[key]]
                + ([source] if source else []))
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


_RA = """
import socket, struct, sys, time
index = socket.if_nametoindex(sys.argv[1])
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
# type 134, code 0, checksum (the kernel's), hop limit 64, no flags, router lifetime 1800 s
advert = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0)
deadline = time.time() + 5
while True:
    try:
        s.sendto(advert, ("ff02::1", 0, 0, index))
        break
    except OSError:  # no link-local source address yet
        if time.time() > deadline:
            raise
        time.sleep(0.05)
"""


@contextlib.contextmanager
def ra_router(box, uplink="up0", netns="cnt2-rtr"):
    """A namespace ``netns`` behind the sandbox's interface ``uplink`` (a veth, accept_ra as a
    new interface gets it: 1) that sends router advertisements: ``send()`` sends one (router
    lifetime 1800 s) and returns once the sandbox has the default route it makes."""
    def send():
        _must(box, ["ip", "netns", "exec", netns, "python3", "-c", _RA, "eth0"])
        for dummy in range(50):
            if default_route6(box):
                return
            time.sleep(0.05)
        raise AssertionError("no default route from the router advertisement")

    try:
        _must(box, ["ip", "netns", "add", netns])
        _must(box, ["ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"])
        _must(box, ["ip", "link", "add", uplink, "type", "veth", "peer", "name", "eth0", "netns", netns])
        set_sysctl(box, "net/ipv6/conf/%s/accept_dad" % uplink, 0)
        _must(box, ["ip", "link", "set", uplink, "up"])
        _must(box, ["ip", "-n", netns, "link", "set", "eth0", "up"])
        yield send
    finally:
        box.run(["ip", "netns", "del", netns])


def default_route6(box):
    """The sandbox's IPv6 default routes, as ``ip -6 route show default`` lists them."""
    return box.run(["ip", "-6", "route", "show", "default"]).stdout.strip()
