# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``netns_path``: containers whose network namespace a container runtime made, inside a sandbox.

The "runtime" is a process started in the sandbox with ``unshare --net`` (our child, killed
at the end of every test, also on failure); its namespace is reached by ``/proc/<pid>/ns/net``
or by a bind mount of that file (as runtimes keep theirs, e.g. /run/netns/<id>).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

GATEWAY = "169.254.1.1"
GATEWAY_ROUTES = [(GATEWAY, None, "eth0", "link"), ("default", GATEWAY, "eth0", "global")]
# A runtime's container that answers on TCP 8080 once it has an address (for the data path).
SERVER = ("import socket\n"
          "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
          "s.bind(('0.0.0.0', 8080)); s.listen(8)\n"
          "while True:\n"
          "    c, a = s.accept(); c.sendall(('hello %s' % a[0]).encode()); c.close()\n")


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def ns_id(path):
    st = os.stat(path)
    return st.st_dev, st.st_ino


class Runtime:
    """Processes that each hold a network namespace of their own, as a container runtime's."""

    def __init__(self, box):
        self.box = box
        self.procs = []

    def start(self, argv=("sleep", "600")):
        """Start a "container" in a new network namespace inside the sandbox; its pid."""
        proc = subprocess.Popen(["nsenter", "-t", str(self.box.pid), "-n", "-m", "--", "unshare", "--net", "--"]
                                + list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        # nsenter enters the sandbox, unshare makes the namespace, then argv runs: until argv's
        # program shows, the process may still be in the machine's or the sandbox's namespace
        passed = {ns_id("/proc/%d/ns/net" % self.box.pid), ns_id("/proc/self/ns/net")}
        path, comm = "/proc/%d/ns/net" % proc.pid, "/proc/%d/comm" % proc.pid
        program = os.path.basename(argv[0])[:15]

        def unshared():
            try:
                with open(comm, encoding="utf-8") as handle:
                    running = handle.read().strip() == program
                return running and ns_id(path) not in passed and proc.poll() is None
            except OSError:
                return False
        assert wait_until(unshared), "the runtime's process did not get a namespace of its own"
        return proc.pid

    def bind(self, pid, target):
        """Keep the namespace of ``pid`` on ``target`` too (a file in the sandbox's mount namespace)."""
        self.box.run(["sh", "-c", 'mkdir -p "$(dirname "$2")" && touch "$2" && mount --bind "$1" "$2"', "-",
                      "/proc/%d/ns/net" % pid, target], check=True)

    def stop(self, pid=None):
        for proc in self.procs:
            if pid is None or proc.pid == pid:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                proc.wait()

    def alive(self, pid):
        return any(proc.pid == pid and proc.poll() is None for proc in self.procs)


@pytest.fixture
def runtime(sandbox):
    """A Runtime in the sandbox; every process it started is killed at the end (before the sandbox
    goes: they are in its mount namespace)."""
    started = Runtime(sandbox)
    try:
        yield started
    finally:
        started.stop()


def inside(box, path, argv, **kwargs):
    """Run ``argv`` in the namespace of file ``path`` (in the sandbox's mount namespace)."""
    return box.run(["nsenter", "--net=" + path, "--"] + list(argv), **kwargs)


def link(box, name, path=None):
    argv = ["ip", "-j", "-d", "link", "show", "dev", name]
    proc = inside(box, path, argv) if path else box.run(argv)
    return json.loads(proc.stdout)[0] if proc.returncode == 0 else None


def addresses(box, path, dev="eth0"):
    data = json.loads(inside(box, path, ["ip", "-j", "-4", "addr", "show", "dev", dev]).stdout)
    return sorted("%s/%s" % (a["local"], a["prefixlen"]) for a in data[0]["addr_info"]) if data else None


def neighbour(box, path):
    data = json.loads(inside(box, path, ["ip", "-j", "neigh", "show", GATEWAY]).stdout)
    return (data[0]["lladdr"], data[0]["state"]) if data else None


def routes(box, path):
    data = json.loads(inside(box, path, ["ip", "-j", "-4", "route", "show", "table", "main", "proto", "157"]).stdout)
    return sorted((r["dst"], r.get("gateway"), r["dev"], r.get("scope", "global")) for r in data)


def loopback_up(box, path):
    return "UP" in inside(box, path, ["ip", "-o", "link", "show", "lo"]).stdout.split(">")[0]


def wired(box, path, host_ifname, netns, addrs):
    """The pair is in place: host end aliased and up, peer in the runtime's namespace with its
    addresses, the gateway's permanent neighbour entry and the container's routes, lo up."""
    host = link(box, host_ifname)
    assert host is not None and host["ifalias"] == "crossnet:" + netns and "UP" in host["flags"], host
    peer = link(box, "eth0", path)
    assert peer is not None and "UP" in peer["flags"] and peer["link_index"] == host["ifindex"], peer
    assert addresses(box, path) == addrs
    assert neighbour(box, path) == (host["address"], ["PERMANENT"])
    assert routes(box, path) == GATEWAY_ROUTES
    assert loopback_up(box, path)
    return host


def test_veth_pair_wires_a_runtime_namespace_by_its_proc_file(sandbox, runtime):
    pid = runtime.start()
    path = "/proc/%d/ns/net" % pid
    before = ns_id(path)
    pairs = [{"netns": "app1", "netns_path": path, "host_ifname": "cnpva", "addresses": ["10.9.0.1"],
              "gateway": GATEWAY, "mtu": 1400}]
    predicted = sandbox.run_module("veth_pair", {"pairs": pairs}, check=True, diff=True)
    assert predicted["changed"] and not predicted["failed"], predicted.get("msg")
    assert predicted["created"] == ["cnpva"] and link(sandbox, "cnpva") is None

    done = sandbox.run_module("veth_pair", {"pairs": pairs}, diff=True)
    assert done["changed"] and not done["failed"], done.get("msg")
    assert done["created"] == ["cnpva"] and done["loopback_up"] == [path]
    assert done["pairs"][0]["netns_path"] == path and done["pairs"][0]["netns"] == "app1"
    host = wired(sandbox, path, "cnpva", "app1", ["10.9.0.1/32"])
    assert host["mtu"] == 1400 and link(sandbox, "eth0", path)["mtu"] == 1400
    assert done["diff"]["after"]["pairs"][0]["netns_path"] == path
    assert sandbox.run(["ip", "netns", "list"]).stdout == ""  # no name of ours made for it

    again = sandbox.run_module("veth_pair", {"pairs": pairs}, diff=True)
    assert not again["failed"] and again["changed"] is False, again
    assert again["diff"]["before"] == again["diff"]["after"]
    assert sandbox.run_module("veth_pair", {"pairs": pairs}, check=True)["changed"] is False

    # drift inside the runtime's namespace is repaired there
    inside(sandbox, path, ["ip", "addr", "add", "10.9.9.9/32", "dev", "eth0"], check=True)
    inside(sandbox, path, ["ip", "addr", "del", "10.9.0.1/32", "dev", "eth0"], check=True)
    inside(sandbox, path, ["ip", "link", "set", "eth0", "mtu", "1300", "down"], check=True)
    inside(sandbox, path, ["ip", "link", "set", "lo", "down"], check=True)
    drifted = sandbox.run_module("veth_pair", {"pairs": pairs}, check=True)
    assert drifted["changed"] and drifted["changed_pairs"] == ["cnpva"] and addresses(sandbox, path) == ["10.9.9.9/32"]
    fixed = sandbox.run_module("veth_pair", {"pairs": pairs})
    assert fixed["changed"] and fixed["changed_pairs"] == ["cnpva"] and fixed["created"] == [], fixed
    wired(sandbox, path, "cnpva", "app1", ["10.9.0.1/32"])
    # the peer taken out of the namespace: the pair is rebuilt into it
    inside(sandbox, path, ["ip", "link", "del", "eth0"], check=True)
    assert wait_until(lambda: link(sandbox, "cnpva") is None)
    rebuilt = sandbox.run_module("veth_pair", {"pairs": pairs})
    assert rebuilt["changed"] and rebuilt["created"] == ["cnpva"], rebuilt
    wired(sandbox, path, "cnpva", "app1", ["10.9.0.1/32"])
    assert sandbox.run_module("veth_pair", {"pairs": pairs})["changed"] is False

    # deleting the pair deletes the veth only: the namespace and its process stay
    removed = sandbox.run_module("veth_pair", {"pairs": pairs, "state": "absent"})
    assert removed["changed"] and removed["removed"] == ["cnpva"] and link(sandbox, "cnpva") is None
    assert wait_until(lambda: link(sandbox, "eth0", path) is None)
    assert runtime.alive(pid) and ns_id(path) == before and loopback_up(sandbox, path)
    # absent needs no namespace: the container stopped is fine
    runtime.stop(pid)
    assert sandbox.run_module("veth_pair", {"pairs": pairs, "state": "absent"})["changed"] is False


def census(box):
    netns = sorted(line.split()[0] for line in box.run(["ip", "netns", "list"]).stdout.splitlines())
    veths = sorted(link["ifname"] for link in json.loads(box.run(["ip", "-j", "link", "show", "type", "veth"]).stdout))
    host_routes = sorted(r["dst"] for r in json.loads(box.run(["ip", "-j", "-4", "route", "show", "proto", "157"]).stdout))
    return {"netns": netns, "veths": veths, "routes": host_routes,
            "state_files": sorted(box.run(["ls", "/var/lib/crossnet"]).stdout.split())}


def host_network_plan(path):
    """One container the collection makes (cnp-a) and one a runtime made (app1, at ``path``)."""
    return {
        "namespaces": ["cnp-a"],
        "veth_pairs": [
            {"netns": "cnp-a", "host_ifname": "cnpva", "addresses": ["10.9.0.1/32"], "gateway": GATEWAY, "mtu": 1500},
            {"netns": "app1", "netns_path": path, "host_ifname": "cnpvb", "addresses": ["10.9.0.2/32"],
             "gateway": GATEWAY, "mtu": 1500},
        ],
        "routes": [{"dest": "10.9.0.1/32", "dev": "cnpva", "scope": "link"},
                   {"dest": "10.9.0.2/32", "dev": "cnpvb", "scope": "link"}],
        "proxy_arp_interfaces": ["cnpva", "cnpvb"],
        "container_networks": ["10.9.0.0/30"],
        "masquerade_sources": ["10.9.0.0/30"],
        "masquerade_exclude": ["10.9.0.0/30"],
    }


def test_host_network_wires_a_runtime_namespace_and_leaves_it_at_teardown(sandbox, runtime):
    """A runtime that keeps its namespace on /run/netns/<id> (not ours: purge leaves it alone);
    the containers reach each other through the host."""
    pid = runtime.start([sys.executable, "-c", SERVER])
    path = "/run/netns/cni-5f1e"
    runtime.bind(pid, path)
    plan = host_network_plan(path)
    predicted = sandbox.run_module("host_network", plan, check=True)
    assert predicted["changed"] and not predicted["failed"], predicted.get("msg")

    done = sandbox.run_module("host_network", plan)
    assert not done["failed"], done.get("msg")
    assert done["steps"]["netns"]["created"] == ["cnp-a"]
    assert sorted(done["steps"]["veth_pair"]["created"]) == ["cnpva", "cnpvb"]
    assert census(sandbox)["netns"] == ["cni-5f1e", "cnp-a"]
    wired(sandbox, path, "cnpvb", "app1", ["10.9.0.2/32"])
    wired(sandbox, "/run/netns/cnp-a", "cnpva", "cnp-a", ["10.9.0.1/32"])
    assert census(sandbox)["routes"] == ["10.9.0.1", "10.9.0.2"]
    assert sandbox.run(["cat", "/proc/sys/net/ipv4/conf/cnpvb/proxy_arp"]).stdout.strip() == "1"
    # the data path: the collection's container talks to the runtime's through the host
    talk = sandbox.netns_run("cnp-a", [sys.executable, "-c", "import socket; s = socket.create_connection("
                                       "('10.9.0.2', 8080), timeout=5); print(s.recv(64).decode())"])
    assert talk.returncode == 0 and talk.stdout.strip() == "hello 10.9.0.1", talk.stderr

    again = sandbox.run_module("host_network", plan)
    assert not again["failed"] and not again["changed"], again.get("changed_steps")

    # drift in the runtime's namespace: repaired by the next run
    inside(sandbox, path, ["ip", "route", "del", "default"], check=True)
    inside(sandbox, path, ["ip", "neigh", "del", GATEWAY, "dev", "eth0"], check=True)
    fixed = sandbox.run_module("host_network", plan)
    assert fixed["changed_steps"] == ["veth_pair"] and fixed["steps"]["veth_pair"]["changed_pairs"] == ["cnpvb"]
    wired(sandbox, path, "cnpvb", "app1", ["10.9.0.2/32"])

    # the container leaves the inventory: its veth goes, its namespace stays
    smaller = host_network_plan(path)
    smaller["veth_pairs"] = smaller["veth_pairs"][:1]
    smaller["routes"] = smaller["routes"][:1]
    smaller["proxy_arp_interfaces"] = ["cnpva"]
    pruned = sandbox.run_module("host_network", smaller)
    assert not pruned["failed"] and pruned["steps"]["veth_pair"]["removed"] == ["cnpvb"], pruned.get("msg")
    assert census(sandbox)["netns"] == ["cni-5f1e", "cnp-a"] and census(sandbox)["veths"] == ["cnpva"]
    assert wait_until(lambda: link(sandbox, "eth0", path) is None)
    assert sandbox.run_module("host_network", plan)["changed_steps"] == ["veth_pair", "host_route", "proxy_arp"]

    # teardown: everything of ours goes, the runtime's namespace and process stay
    gone = sandbox.run_module("host_network", {"state": "absent"})
    assert not gone["failed"], gone.get("msg")
    assert "cnp-a" in gone["steps"]["netns"]["removed"] and "cni-5f1e" not in gone["steps"]["netns"]["removed"]
    assert wait_until(lambda: census(sandbox) == {"netns": ["cni-5f1e"], "veths": [], "routes": [], "state_files": []})
    assert wait_until(lambda: link(sandbox, "eth0", path) is None)
    assert runtime.alive(pid) and ns_id("/proc/%d/ns/net" % pid) == ns_id_in(sandbox, path)


def ns_id_in(box, path):
    """(device, inode) of a file in the sandbox's mount namespace."""
    out = box.run(["stat", "-L", "-c", "%d %i", path], check=True).stdout.split()
    return int(out[0]), int(out[1])


def test_missing_or_wrong_namespace_is_refused(sandbox, runtime):
    pid = runtime.start()
    path = "/proc/%d/ns/net" % pid
    runtime.stop(pid)  # the container is not running any more
    pairs = [{"netns": "app1", "netns_path": path, "host_ifname": "cnpva", "addresses": ["10.9.0.1"],
              "gateway": GATEWAY}]
    for check in (True, False):
        refused = sandbox.run_module("veth_pair", {"pairs": pairs}, check=check)
        assert refused["failed"] and "container app1" in refused["msg"] and path in refused["msg"], refused
        assert "does not exist (is the container running?)" in refused["msg"]
    assert link(sandbox, "cnpva") is None
    refused = sandbox.run_module("host_network", dict(host_network_plan(path), namespaces=[], veth_pairs=pairs[:1]))
    assert refused["failed"] and refused["failed_step"] == "veth_pair" and path in refused["msg"]
    assert link(sandbox, "cnpva") is None

    # a file that is not a network namespace, and the host's own namespace
    sandbox.run(["mkdir", "-p", "/run/netns"], check=True)
    sandbox.run(["touch", "/run/netns/stale"], check=True)
    for bad, why in (("/run/netns/stale", "is not a network namespace"),
                     ("/proc/%d/ns/mnt" % sandbox.pid, "is not a network namespace"),
                     ("/proc/%d/ns/net" % sandbox.pid, "is the host's own network namespace"),
                     ("/proc/1/ns/../ns/net", "must not contain '..'")):
        refused = sandbox.run_module("veth_pair", {"pairs": [dict(pairs[0], netns_path=bad)]})
        assert refused["failed"] and bad in refused["msg"] and why in refused["msg"], (bad, refused)
    assert link(sandbox, "cnpva") is None and link(sandbox, "eth0") is None

    # one namespace by two files
    live = runtime.start()
    runtime.bind(live, "/run/netns/cni-1")
    twice = sandbox.run_module("veth_pair", {"pairs": [
        dict(pairs[0], netns_path="/proc/%d/ns/net" % live),
        {"netns": "app2", "netns_path": "/run/netns/cni-1", "host_ifname": "cnpvb", "peer_ifname": "eth1"}]})
    assert twice["failed"] and "are the same network namespace" in twice["msg"], twice
    assert link(sandbox, "cnpva") is None and link(sandbox, "cnpvb") is None
