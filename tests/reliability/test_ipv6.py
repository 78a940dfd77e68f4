# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPv6 and dual-stack (topologies/dual_stack.yml: host1 with a dual-stack and an IPv6-only
container, host2 with a dual-stack and an IPv4-only one, an outside node on the segment):
what the kernel holds after a converge, what crosses the wire over IPv6 (sources kept between
containers, masqueraded outward), forged IPv6 sources, router advertisements kept through
converge and teardown, drift, pruning, foreign objects, bad input, teardown to the exact state
before."""

from __future__ import annotations

import concurrent.futures
import ipaddress
import json
import os
import re
import subprocess

import pytest

import snapshot as snapshot_mod
from harness import HERE, names, rejected, wait_for

LAB_NAME = "xripv6"
TOPOLOGY = "dual_stack.yml"

# host1
DUAL1_V4, DUAL1, V6ONLY = "10.61.1.10", "fd11:1::10", "fd11:1::11"
BLOCK1 = "fd11:1::/64"
# host2
DUAL2_V4, DUAL2, V4ONLY = "10.61.2.10", "fd11:2::10", "10.61.2.11"
BLOCK2 = "fd11:2::/64"
NODE1, NODE2, OUTSIDE = "fd00:61::3", "fd00:61::4", "fd00:61::10"

VETH_DUAL = names.host_ifname("dual", "eth0")      # the same name on both hosts
VETH_V6ONLY = names.host_ifname("v6only", "eth0")  # host1

# What the plan says for the default inventory, per host
PLAN = {
    "host1": {
        "routes": {(DUAL1, None, VETH_DUAL), (V6ONLY, None, VETH_V6ONLY), (BLOCK2, NODE2, "eth0")},
        "own": {DUAL1, V6ONLY},
        "v6_veths": {VETH_DUAL, VETH_V6ONLY},
        "v6_containers": ["dual", "v6only"],
        "v4_only_containers": [],
    },
    "host2": {
        "routes": {(DUAL2, None, VETH_DUAL), (BLOCK1, NODE1, "eth0")},
        "own": {DUAL2},
        "v6_veths": {VETH_DUAL},
        "v6_containers": ["dual"],
        "v4_only_containers": ["v4only"],
    },
}
JUMPS = {"nat": ("POSTROUTING", "CROSSNET-POSTROUTING"), "filter": ("FORWARD", "CROSSNET-FORWARD"),
         "raw": ("PREROUTING", "CROSSNET-PREROUTING")}


# -- looking inside ---------------------------------------------------------------------------
def _json(lab, host, argv, netns=None):
    out = lab.run(host, argv, netns, check=True).stdout
    return json.loads(out) if out.strip() else []


def _routes6(lab, host):
    """{(dst, gateway, dev)} of the host's IPv6 routes with protocol crossnet (157)."""
    return {(route["dst"], route.get("gateway"), route["dev"])
            for route in _json(lab, host, ["ip", "-j", "-6", "route", "show", "proto", "157"])}


def _addresses6(lab, host, netns):
    return [(a["local"], a["prefixlen"], bool(a.get("nodad")))
            for link in _json(lab, host, ["ip", "-j", "-6", "addr", "show", "dev", "eth0", "scope", "global"], netns)
            for a in link.get("addr_info", []) if a.get("local")]


def _default6(lab, host, netns):
    return _json(lab, host, ["ip", "-j", "-6", "route", "show", "default"], netns)


def _neigh6(lab, host, netns):
    return _json(lab, host, ["ip", "-j", "-6", "neigh", "show", "nud", "permanent"], netns)


def _mac(lab, host, ifname):
    return _json(lab, host, ["ip", "-j", "link", "show", ifname])[0]["address"]


def _rules(lab, host, table, chain):
    """``ip6tables -t TABLE -S CHAIN`` without the chain's own line; None when there is no chain."""
    proc = lab.run(host, ["ip6tables", "-t", table, "-S", chain])
    if proc.returncode != 0:
        return None
    return [line for line in proc.stdout.splitlines() if line.startswith("-A ")]


def _sysctl(lab, host, key):
    return lab.run(host, ["cat", "/proc/sys/" + key.replace(".", "/")], check=True).stdout.strip()


def _covered(rules, option, target):
    """The addresses that the ``option`` (-s/-d) networks of ``-j target`` rules cover (sets of
    strings; a network over 256 addresses is given as itself)."""
    covered = set()
    for rule in rules:
        words = rule.split()
        if words[-2:] != ["-j", target] or option not in words:
            continue
        network = ipaddress.ip_network(words[words.index(option) + 1])
        covered |= {str(a) for a in network} if network.num_addresses <= 256 else {str(network)}
    return covered


def hear(lab, listeners, sends, seconds=3):
    """Start every listener at once (``{key: (node, netns, tag, ifname or None)}``, sniffing on
    ``ifname`` when given), run every ``(host, netns, source, destination, tag)`` of ``sends`` in
    parallel, return ``{key: sorted sources heard}``."""
    with open(os.path.join(HERE, "icmp_probe.py"), encoding="utf-8") as handle:
        source = handle.read()
    procs = {}
    try:
        for key, (node, netns, tag, ifname) in listeners.items():
            argv = ["python3", "-c", source, "sniff" if ifname else "listen", str(seconds), tag]
            procs[key] = subprocess.Popen(lab.lab.argv(node, argv + ([ifname] if ifname else []), netns),
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                          env=lab.lab.env())
        for key, proc in procs.items():
            line = proc.stdout.readline().strip()
            assert line == "ready", "listener %s did not start: %s" % (key, proc.stderr.read())
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            done = list(pool.map(lambda s: lab.icmp(s[0], s[1], "send", s[2], s[3], s[4]), sends))
        for send, proc in zip(sends, done):
            assert proc.returncode == 0, "send %s failed: %s" % (send, proc.stderr)
        heard = {}
        for key, proc in procs.items():
            out, dummy = proc.communicate(timeout=seconds + 20)
            heard[key] = sorted(out.split())
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return heard


def _left(lab):
    left = lab.normalized_diff(lab.converged)
    return "\n".join("=== %s\n%s" % item for item in left.items())


# -- 1. converge, re-run, the state the plan says ---------------------------------------------
def test_rerun_changes_nothing_and_ipv6_state_is_where_the_plan_says(converged_lab):
    lab = converged_lab
    run = lab.playbook()
    assert run.rc == 0, run.describe()
    assert not run.changed_tasks(), "the second run changed: %s\n%s" % (
        [(e["host"], e["task"], e.get("changed_steps")) for e in run.changed_tasks()],
        run.describe())
    assert all(recap["changed"] == 0 for recap in run.recap.values()) and set(run.recap) >= set(PLAN), run.recap

    problems = []
    for host, plan in PLAN.items():
        routes = _routes6(lab, host)
        if routes != plan["routes"]:
            problems.append("%s: IPv6 routes proto 157 %s, plan %s" % (host, sorted(routes, key=str),
                                                                       sorted(plan["routes"], key=str)))
        for container in plan["v6_containers"]:
            mac = _mac(lab, host, VETH_DUAL if container == "dual" else VETH_V6ONLY)
            address = {"host1": {"dual": DUAL1, "v6only": V6ONLY}, "host2": {"dual": DUAL2}}[host][container]
            if _addresses6(lab, host, container) != [(address, 128, True)]:
                problems.append("%s/%s: global IPv6 addresses %s, want %s/128 nodad" % (
                    host, container, _addresses6(lab, host, container), address))
            default = [(r.get("gateway"), r.get("dev"), r.get("protocol"), r.get("metric"))
                       for r in _default6(lab, host, container)]
            if default != [("fe80::1", "eth0", "crossnet", 1024)]:
                problems.append("%s/%s: IPv6 default routes %s" % (host, container, default))
            neigh = [(n["dst"], n.get("lladdr")) for n in _neigh6(lab, host, container)]
            if neigh != [("fe80::1", mac)]:
                problems.append("%s/%s: permanent IPv6 neighbours %s, want fe80::1 -> %s" % (
                    host, container, neigh, mac))
        for container in plan["v4_only_containers"]:
            if _addresses6(lab, host, container) or _default6(lab, host, container) or _neigh6(lab, host, container):
                problems.append("%s/%s (IPv4 only) has IPv6 state: %s %s %s" % (
                    host, container, _addresses6(lab, host, container), _default6(lab, host, container),
                    _neigh6(lab, host, container)))
        # ip6tables: one tagged jump per table, the chains' rules
        for table, (builtin, chain) in JUMPS.items():
            jumps = [rule for rule in _rules(lab, host, table, builtin) or [] if rule.endswith("-j " + chain)]
            if jumps != ["-A %s -m comment --comment crossnet -j %s" % (builtin, chain)]:
                problems.append("%s: ip6tables -t %s jumps to %s: %s" % (host, table, chain, jumps))
        nat = _rules(lab, host, "nat", "CROSSNET-POSTROUTING") or []
        if _covered(nat, "-d", "RETURN") != {BLOCK1, BLOCK2}:
            problems.append("%s: nat RETURN for %s, want both IPv6 blocks: %s" % (
                host, _covered(nat, "-d", "RETURN"), nat))
        if _covered(nat, "-s", "MASQUERADE") != plan["own"]:
            problems.append("%s: nat MASQUERADE covers %s, want exactly %s: %s" % (
                host, sorted(_covered(nat, "-s", "MASQUERADE")), sorted(plan["own"]), nat))
        forward = _rules(lab, host, "filter", "CROSSNET-FORWARD") or []
        for option in ("-s", "-d"):
            if _covered(forward, option, "ACCEPT") != plan["own"]:
                problems.append("%s: FORWARD ACCEPT %s covers %s, want %s" % (
                    host, option, sorted(_covered(forward, option, "ACCEPT")), sorted(plan["own"])))
        raw = _rules(lab, host, "raw", "CROSSNET-PREROUTING") or []
        want = sorted("-A CROSSNET-PREROUTING -i %s -m rpfilter --invert -j DROP" % veth for veth in plan["v6_veths"])
        if sorted(raw) != want:
            problems.append("%s: raw CROSSNET-PREROUTING %s, want %s" % (host, raw, want))
        # sysctls: forwarding on, the uplink keeps accepting RAs, the priors recorded
        keys = ("net.ipv6.conf.all.forwarding", "net.ipv6.conf.eth0.forwarding", "net.ipv6.conf.eth0.accept_ra")
        values = {key: _sysctl(lab, host, key) for key in keys}
        if values != {"net.ipv6.conf.all.forwarding": "1", "net.ipv6.conf.eth0.forwarding": "1",
                      "net.ipv6.conf.eth0.accept_ra": "2"}:
            problems.append("%s: sysctls %s" % (host, values))
        persisted = lab.run(host, ["cat", "/etc/sysctl.d/60-crossnet.conf"]).stdout
        for line in ("net.ipv6.conf.all.forwarding = 1", "net.ipv6.conf.eth0.accept_ra = 2"):
            if line not in persisted.splitlines():
                problems.append("%s: /etc/sysctl.d/60-crossnet.conf lacks %r:\n%s" % (host, line, persisted))
    assert not problems, "\n".join(problems)


# -- 2. what crosses the wire -----------------------------------------------------------------
def test_container_to_container_keeps_the_source_and_outward_is_masqueraded(converged_lab):
    lab = converged_lab
    heard = hear(lab, {
        "host2/dual": ("host2", "dual", "xr6-c2c", None),
        "host1/v6only": ("host1", "v6only", "xr6-back", None),
        "outside from host1": ("outside", None, "xr6-out1", None),
        "outside from host2": ("outside", None, "xr6-out2", None),
    }, [
        ("host1", "dual", DUAL1, DUAL2, "xr6-c2c"),
        ("host1", "v6only", V6ONLY, DUAL2, "xr6-c2c"),
        ("host1", "dual", DUAL1_V4, DUAL2_V4, "xr6-c2c"),  # and IPv4 still, from the same container
        ("host2", "dual", DUAL2, V6ONLY, "xr6-back"),
        ("host1", "dual", DUAL1, OUTSIDE, "xr6-out1"),
        ("host1", "v6only", V6ONLY, OUTSIDE, "xr6-out1"),
        ("host2", "dual", DUAL2, OUTSIDE, "xr6-out2"),
    ])
    want = {
        "host2/dual": sorted([DUAL1, V6ONLY, DUAL1_V4]),  # container to container: its own source
        "host1/v6only": [DUAL2],
        "outside from host1": [NODE1],                    # outward: the sending host's IPv6 node address
        "outside from host2": [NODE2],
    }
    assert heard == want, "heard %r, want %r" % (heard, want)


# -- 3. forged sources ------------------------------------------------------------------------
@pytest.mark.security
def test_forged_ipv6_source_from_a_container_is_dropped(converged_lab):
    lab = converged_lab
    # (container on host1, forged address): an unused address of host1's block, the sibling
    # container's address (both ways), host2's IPv6 node address
    forged = [("dual", "fd11:1::99"), ("dual", V6ONLY), ("dual", NODE2), ("v6only", DUAL1)]
    real = {"dual": DUAL1, "v6only": V6ONLY}
    for netns, address in forged:
        lab.run("host1", ["ip", "-6", "addr", "add", address + "/128", "dev", "eth0", "nodad"], netns, check=True)
    try:
        # Every (container, source) gets its own tag and listeners: outward every source is
        # masqueraded alike, and a forged sibling address looks like the real one.  The tags
        # share a suffix, which host2's uplink sniffer matches for all of them: everything host1
        # forwards to host2 crosses that uplink.
        listeners = {"host2 uplink": ("host2", None, "xr6f-c2", "eth0")}
        sends = []
        for index, (netns, source) in enumerate(list(real.items()) + forged):
            targets = (("host2/dual", "host2", "dual", DUAL2), ("outside", "outside", None, OUTSIDE))
            for target, node, node_netns, destination in targets:
                tag = "%d-xr6f-%s" % (index, "c2" if node == "host2" else "out")
                listeners["%s: %s from %s" % (target, source, netns)] = (node, node_netns, tag, None)
                sends.append(("host1", netns, source, destination, tag))
        heard = hear(lab, listeners, sends)
    finally:
        for netns, address in forged:
            lab.run("host1", ["ip", "-6", "addr", "del", address + "/128", "dev", "eth0"], netns)
    want = {"host2 uplink": sorted(real.values())}
    for netns, source in list(real.items()) + forged:
        ok = real[netns] == source
        want["host2/dual: %s from %s" % (source, netns)] = [source] if ok else []
        want["outside: %s from %s" % (source, netns)] = [NODE1] if ok else []
    wrong = {key: (heard.get(key), value) for key, value in want.items() if heard.get(key) != value}
    assert not wrong, "forged IPv6 sources left host1, or a real one did not arrive:\n%s" % (
        "\n".join("%s: heard %r, want %r" % (key, got, value) for key, (got, value) in sorted(wrong.items())))


# -- 5. drift -----------------------------------------------------------------------------------
DRIFT = {
    "container-address-deleted": ("host1", [["ip", "-n", "dual", "-6", "addr", "del", DUAL1 + "/128", "dev", "eth0"]],
                                  "veth_pair"),
    "container-default-route-deleted": ("host2", [["ip", "-n", "dual", "-6", "route", "del", "default"]],
                                        "veth_pair"),
    "gateway-neighbour-deleted": ("host1", [["ip", "-n", "v6only", "-6", "neigh", "del", "fe80::1", "dev", "eth0"]],
                                  "veth_pair"),
    "host-route-deleted": ("host2", [["ip", "-6", "route", "del", DUAL2 + "/128"]], "host_route"),
    "peer-block-route-deleted": ("host1", [["ip", "-6", "route", "del", BLOCK2]], "host_route"),
    "nat-jump-deleted": ("host1", [["ip6tables", "-t", "nat", "-D", "POSTROUTING", "-m", "comment", "--comment",
                                    "crossnet", "-j", "CROSSNET-POSTROUTING"]], "masquerade"),
    "rpfilter-rules-flushed": ("host2", [["ip6tables", "-t", "raw", "-F", "CROSSNET-PREROUTING"]], "forwarding"),
    "ipv6-forwarding-off": ("host2", [["sysctl", "-qw", "net.ipv6.conf.all.forwarding=0"]], "forwarding"),
    "uplink-accept-ra-back-to-1": ("host1", [["sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=1"]], "forwarding"),
}


@pytest.mark.parametrize("case", list(DRIFT))
def test_one_rerun_repairs_ipv6_drift(converged_lab, case):
    lab = converged_lab
    host, commands, module = DRIFT[case]
    for argv in commands:
        lab.run(host, argv, check=True)
    assert host in lab.normalized_diff(lab.converged), "the drift did not show in the snapshot of %s" % host
    run = lab.playbook()
    assert run.rc == 0, "the repair run failed: %s" % run.describe()
    assert module in run.changed_steps(host), "%s did not report changed on %s (changed: %s)\n%s" % (
        module, host, run.changed_steps(host), run.describe())
    left = _left(lab)
    assert not left, "not repaired:\n%s" % left


@pytest.mark.teardown
def test_teardown_after_ipv6_drift_restores_pristine(converged_lab):
    run = converged_lab.teardown()
    assert run.rc == 0, run.describe()
    converged_lab.assert_unchanged_since(converged_lab.pristine, "converge, IPv6 drift, repair and teardown")


# -- 6. pruning -------------------------------------------------------------------------------
def test_pruning_an_ipv6_address_and_an_ipv6_only_container(converged_lab):
    lab = converged_lab
    # host1 with an IPv4 block only: host2 then routes exactly host1's IPv6 addresses
    base = {"crossnet_container_cidr": "10.61.1.0/24",
            "crossnet_containers": [{"name": "dual", "addresses": [DUAL1_V4, DUAL1]},
                                    {"name": "v6only", "addresses": [V6ONLY]}]}
    lab.converge({"host1": base}, what="host1 without an IPv6 block")
    toward1 = {r for r in _routes6(lab, "host2") if r[1] == NODE1}
    assert toward1 == {("fd11:1::10/127", NODE1, "eth0")}, "host2's routes toward host1: %s" % toward1

    # A: dual loses its IPv6 address
    pruned = dict(base, crossnet_containers=[{"name": "dual", "addresses": [DUAL1_V4]},
                                             {"name": "v6only", "addresses": [V6ONLY]}])
    lab.converge({"host1": pruned}, what="dual without its IPv6 address")
    problems = []
    if (DUAL1, None, VETH_DUAL) in _routes6(lab, "host1"):
        problems.append("host1 still routes %s to dual's veth" % DUAL1)
    toward1 = {r for r in _routes6(lab, "host2") if r[1] == NODE1}
    if toward1 != {(V6ONLY, NODE1, "eth0")}:
        problems.append("host2's routes toward host1: %s, want only %s" % (toward1, V6ONLY))
    for what, value in (("addresses", _addresses6(lab, "host1", "dual")),
                        ("default route", _default6(lab, "host1", "dual")),
                        ("gateway neighbour", _neigh6(lab, "host1", "dual"))):
        if value:
            problems.append("dual (now IPv4 only) kept its IPv6 %s: %s" % (what, value))
    raw = _rules(lab, "host1", "raw", "CROSSNET-PREROUTING") or []
    if any(VETH_DUAL in rule for rule in raw) or not any(VETH_V6ONLY in rule for rule in raw):
        problems.append("host1's rpfilter rules: %s (want v6only's veth only)" % raw)
    nat = _rules(lab, "host1", "nat", "CROSSNET-POSTROUTING") or []
    if _covered(nat, "-s", "MASQUERADE") != {V6ONLY}:
        problems.append("host1 masquerades %s over IPv6: %s" % (sorted(_covered(nat, "-s", "MASQUERADE")), nat))
    v4 = _json(lab, "host1", ["ip", "-j", "-4", "addr", "show", "dev", "eth0"], "dual")
    if [a["local"] for link in v4 for a in link.get("addr_info", []) if a.get("local")] != [DUAL1_V4]:
        problems.append("dual lost its IPv4 address: %s" % v4)
    if DUAL1_V4 not in lab.run("host1", ["ip", "-4", "route", "show", "proto", "157"], check=True).stdout:
        problems.append("host1 lost its route to %s" % DUAL1_V4)
    # (problems are collected through B and asserted at the end: the case goes on to B and
    # puts the lab back either way)

    # B: the IPv6-only container goes
    gone = dict(base, crossnet_containers=[{"name": "dual", "addresses": [DUAL1_V4]}])
    lab.converge({"host1": gone}, what="v6only removed")
    if "v6only" in lab.netns_list("host1"):
        problems.append("v6only's namespace is still there")
    if not wait_for(lambda: lab.run("host1", ["ip", "link", "show", VETH_V6ONLY]).returncode != 0):
        problems.append("v6only's veth %s is still there" % VETH_V6ONLY)
    raw = _rules(lab, "host1", "raw", "CROSSNET-PREROUTING") or []
    if raw:
        problems.append("host1 kept rpfilter rules: %s" % raw)
    if any(route[0].startswith("fd11:1:") for route in _routes6(lab, "host1")):
        problems.append("host1 kept routes to its IPv6 containers: %s" % _routes6(lab, "host1"))
    toward1 = {r for r in _routes6(lab, "host2") if r[1] == NODE1 or r[0].startswith("fd11:1:")}
    if toward1:
        problems.append("host2 still routes toward host1's IPv6 containers: %s" % toward1)
    nat = _rules(lab, "host1", "nat", "CROSSNET-POSTROUTING") or []
    if _covered(nat, "-s", "MASQUERADE"):
        problems.append("host1 still masquerades IPv6 sources: %s" % nat)
    heard = hear(lab, {"host1/dual": ("host1", "dual", "xr6-pruned", None)},
                 [("host2", "dual", DUAL2_V4, DUAL1_V4, "xr6-pruned")])
    if heard != {"host1/dual": [DUAL2_V4]}:
        problems.append("IPv4 from host2/dual to host1/dual after the pruning: heard %r" % heard)

    # and back: the default inventory converges to the same state as before the case
    lab.converge(what="back to the default inventory")
    left = _left(lab)
    if left:
        problems.append("not back to the converged state:\n%s" % left)
    assert not problems, "\n".join(problems)


# -- 4. router advertisements -----------------------------------------------------------------
def _ra_default(lab, host):
    return [route for route in _json(lab, host, ["ip", "-j", "-6", "route", "show", "default"])
            if route.get("protocol") == "ra"]


_EXPIRES = re.compile(r" expires \d+sec")


def _without_expiry(snaps):
    """The snapshots with the RA route's remaining lifetime masked (it counts down)."""
    return {host: {section: [_EXPIRES.sub(" expires Nsec", line) for line in lines]
                   for section, lines in snap.items()} for host, snap in snaps.items()}


def test_router_advertisement_default_route_survives_converge_and_teardown(fresh_lab):
    lab = fresh_lab
    # No RA route may be there before: the kernel purges RA routes only from a table that got a
    # default router since its last purge, so the RA must be new for the case to be able to fail.
    for host in lab.hosts:
        assert not _ra_default(lab, host), "%s already has an RA default route" % host
    link_local = _json(lab, "outside", ["ip", "-j", "-6", "addr", "show", "dev", "eth0", "scope", "link"])
    router = [a["local"] for link in link_local for a in link.get("addr_info", []) if a.get("local")][0]
    try:
        lab.icmp("outside", None, "ra", "eth0", "1800", check=True)
        for host in lab.hosts:
            assert wait_for(lambda: _ra_default(lab, host), timeout=5), "%s did not learn the RA route" % host
            assert _ra_default(lab, host)[0]["gateway"] == router, _ra_default(lab, host)
        before = lab.snapshots()

        lab.converge(what="converging with an RA default route")
        problems = []
        for host in lab.hosts:  # right after the converge, with no new RA
            if [r["gateway"] for r in _ra_default(lab, host)] != [router]:
                problems.append("%s lost its RA default route in the converge: %s" % (
                    host, _json(lab, host, ["ip", "-j", "-6", "route", "show", "default"])))
            for key, value in (("net.ipv6.conf.eth0.accept_ra", "2"), ("net.ipv6.conf.all.forwarding", "1")):
                if _sysctl(lab, host, key) != value:
                    problems.append("%s: %s = %s after the converge, want %s" % (
                        host, key, _sysctl(lab, host, key), value))
        assert not problems, "\n".join(problems)

        run = lab.teardown()
        assert run.rc == 0, run.describe()
        for host in lab.hosts:
            if [r["gateway"] for r in _ra_default(lab, host)] != [router]:
                problems.append("%s lost its RA default route in the teardown" % host)
            for key, value in (("net.ipv6.conf.eth0.accept_ra", "1"), ("net.ipv6.conf.all.forwarding", "0")):
                if _sysctl(lab, host, key) != value:
                    problems.append("%s: %s = %s after the teardown, want %s" % (
                        host, key, _sysctl(lab, host, key), value))
        assert not problems, "\n".join(problems)
        after = _without_expiry(lab.snapshots())
        before = _without_expiry(before)
        changes = {host: snapshot_mod.compare(before[host], after[host])
                   for host in lab.hosts if before[host] != after[host]}
        assert not changes, "converge + teardown with an RA route changed hosts:\n%s" % "\n".join(
            "=== %s\n%s" % item for item in changes.items())
    finally:
        for host in lab.hosts:  # back to pristine (the route lives 1800 s)
            lab.run(host, ["ip", "-6", "route", "del", "default", "proto", "ra"])


# -- 7. foreign objects -------------------------------------------------------------------------
FOREIGN_ROUTES = {
    # a route the plan needs on host1, made by the user (ip route add: proto boot)
    "peer-block": ["ip", "-6", "route", "add", BLOCK2, "via", NODE2, "dev", "eth0"],
    "container-address": ["ip", "-6", "route", "add", DUAL1, "via", OUTSIDE, "dev", "eth0"],
}


@pytest.mark.parametrize("kind", list(FOREIGN_ROUTES))
def test_foreign_ipv6_route_is_refused(fresh_lab, kind):
    lab = fresh_lab
    argv = FOREIGN_ROUTES[kind]
    destination = argv[4]
    lab.run("host1", argv, check=True)
    shown = lab.run("host1", ["ip", "-6", "route", "show", destination], check=True).stdout
    assert "proto" not in shown or "proto boot" in shown, shown
    before = lab.snapshots()
    run = lab.playbook()
    assert run.rc != 0, "the run went over a foreign IPv6 route: %s" % run.describe()
    message = " ".join(str(e["msg"]) for e in run.events if e["host"] == "host1" and e["status"] == "failed")
    assert destination in message and "adopt" in message, run.describe()
    assert lab.run("host1", ["ip", "-6", "route", "show", destination], check=True).stdout == shown
    # The steps before host_route (forwarding, namespaces, veths) have run on host1, as over IPv4:
    # the kernel's own routes of the new veths come and go with them.  No other route may change.
    after = lab.snapshots()["host1"]
    diff = snapshot_mod.compare({"routes": _not_kernel(before["host1"]["routes"])},
                                {"routes": _not_kernel(after["routes"])})
    assert not diff, "host1's routes changed in a refused run:\n%s" % diff


def _not_kernel(routes):
    return [line for line in routes if " proto kernel " not in line]


def test_opt_in_takes_a_foreign_ipv6_route_over(fresh_lab):
    lab = fresh_lab
    lab.run("host1", FOREIGN_ROUTES["peer-block"], check=True)
    run = lab.playbook(extra_vars={"crossnet_adopt": True})
    assert run.rc == 0, run.describe()
    route = lab.run("host1", ["ip", "-6", "route", "show", BLOCK2], check=True).stdout
    assert "proto crossnet" in route and "via %s dev eth0" % NODE2 in route, route


FOREIGN_CHAINS = {
    "nat": ("CROSSNET-POSTROUTING", "fd99::/64", "ACCEPT"),
    "raw": ("CROSSNET-PREROUTING", "fd99::/64", "ACCEPT"),
}


@pytest.mark.parametrize("table", list(FOREIGN_CHAINS))
def test_foreign_ip6tables_chain_is_refused(fresh_lab, table):
    lab = fresh_lab
    chain, source, target = FOREIGN_CHAINS[table]
    lab.run("host1", ["ip6tables", "-t", table, "-N", chain], check=True)
    lab.run("host1", ["ip6tables", "-t", table, "-A", chain, "-s", source, "-j", target], check=True)
    before = lab.run("host1", ["ip6tables", "-t", table, "-S"], check=True).stdout
    run = lab.playbook()
    assert run.rc != 0, "the run went over a foreign ip6tables chain: %s" % run.describe()
    message = " ".join(str(e["msg"]) for e in run.events if e["host"] == "host1" and e["status"] == "failed")
    assert chain in message, run.describe()
    assert lab.run("host1", ["ip6tables", "-t", table, "-S"], check=True).stdout == before, \
        "the foreign chain's table was changed"


# -- 8. bad input -------------------------------------------------------------------------------
def _host1(*containers, **variables):
    return {"host1": dict(variables, crossnet_containers=list(containers))}


BAD = {
    "address-outside-its-block": (_host1({"name": "dual", "addresses": [DUAL1_V4, "fd11:9::10"]},
                                         {"name": "v6only", "addresses": [V6ONLY]}),
                                  None, ["host1", "dual", "fd11:9::10", BLOCK1]),
    "same-address-on-two-hosts": ({"host1": {"crossnet_container_cidr": "10.61.1.0/24"},
                                   "host2": {"crossnet_container_cidr": "10.61.2.0/24",
                                             "crossnet_containers": [{"name": "dual", "addresses": [DUAL2_V4, V6ONLY]},
                                                                     {"name": "v4only", "addresses": [V4ONLY]}]}},
                                  None, ["host1", "host2", V6ONLY]),
    "gateway6-not-link-local": ({}, {"crossnet_gateway6": "fd00::1"}, ["crossnet_gateway6", "fd00::1"]),
    "two-ipv6-blocks": ({"host1": {"crossnet_container_cidr": ["10.61.1.0/24", BLOCK1, "fd11:3::/64"]}},
                        None, ["host1", BLOCK1, "fd11:3::/64"]),
    "multicast-container-address": (_host1({"name": "dual", "addresses": [DUAL1_V4, "ff05::10"]},
                                           {"name": "v6only", "addresses": [V6ONLY]}),
                                    None, ["host1", "dual", "ff05::10"]),
    "link-local-container-address": (_host1({"name": "dual", "addresses": [DUAL1_V4, DUAL1]},
                                            {"name": "v6only", "addresses": ["fe80::11"]}),
                                     None, ["host1", "v6only", "fe80::11"]),
    "node-address6-link-local": ({"host1": {"crossnet_node_address6": "fe80::5"}}, None, ["host1", "fe80::5"]),
    "node-address6-of-another-host": ({"host1": {"crossnet_node_address6": NODE2}}, None, ["host1", NODE2]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_ipv6_input_is_refused_before_any_change(fresh_lab, case):
    overrides, extra_vars, expect = BAD[case]
    run = rejected(fresh_lab, overrides, expect, extra_vars, from_pristine=True)
    if case == "gateway6-not-link-local":  # a global variable: the message still names a host
        assert "host1" in run.output or "host2" in run.output, run.describe()


def test_peer_without_an_ipv6_node_address_is_refused(fresh_lab):
    """host2's uplink loses its global IPv6 address (facts then give no IPv6 node address) while
    host1 has IPv6 containers: refused before any change, naming host2."""
    lab = fresh_lab
    lab.run("host2", ["ip", "-6", "addr", "del", NODE2 + "/64", "dev", "eth0"], check=True)
    try:
        before = lab.snapshots()
        run = lab.playbook()
        assert run.rc != 0, "the run succeeded without host2's IPv6 node address: %s" % run.describe()
        assert not run.changed_tasks(), "tasks reported changed: %s" % run.changed_tasks()
        assert "host2" in run.output and "crossnet_node_address6" in run.output, run.describe()
        lab.assert_unchanged_since(before, "a run without host2's IPv6 node address")
    finally:
        lab.run("host2", ["ip", "-6", "addr", "add", NODE2 + "/64", "dev", "eth0", "nodad"], check=True)


# -- 9. teardown --------------------------------------------------------------------------------
@pytest.mark.teardown
def test_teardown_restores_the_exact_prior_state_with_ipv6(fresh_lab):
    lab = fresh_lab
    lab.converge()
    assert _routes6(lab, "host1") == PLAN["host1"]["routes"], _routes6(lab, "host1")
    run = lab.teardown()
    assert run.rc == 0, run.describe()
    lab.assert_unchanged_since(lab.pristine, "converge and teardown (IPv6 routes, ip6tables, IPv6 sysctls)")
