# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connectivity matrix of a lab: from every container (as listed in the topology's
``crossnet_containers``), or from the first container of each host, to every other container,
every other host and every outside node: one ICMP echo, and a TCP connection to a "who are you"
server that reports the source address it saw.  Over each IP version both ends have: a row per
(source, target, family), IPv4 first; a container's address of a family is its first one, a
node's its first link address of that family.

Expected source seen by the receiver:
- another container: one of the sender's own addresses of that family (routed, never NATed);
- another host or an outside node: the sending host's address of that family on the link
  toward it (masqueraded; over IPv6 the host's global IPv6 address on that link).

How: one server per node (listening in the node's namespace and its containers'), all started
at once, each living until the probe closes its standard input (or the probe dies); then one
``whoami.py sweep`` per source container (one nsenter and one Python per source, not two per
row), ``jobs`` sources at a time.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import json
import math
import selectors
import subprocess
import time

from labkit import core, whoami

PORT = 7007
# The servers end when the probe closes their standard input (or dies); this only bounds them
# should that never happen.
SERVER_LIFETIME = 3600
SERVER_START = 30  # seconds for the servers to say "ready" (plus SERVER_START_EACH per server)
SERVER_START_EACH = 0.2
TIMEOUT = 3  # per target: the TCP ask (the echo reply is waited for at most 2 s)
JOBS = 8  # sources probed at once
SOURCES = ("all", "first")
TARGET_KINDS = ("host", "outside")  # and containers; routers only forward
FAMILIES = (4, 6)


def _canonical(text):
    """An address as the receiver reports it (IPv6 compressed, lower case); text that is no
    address as it is."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def family(address):
    """4 or 6: the IP version of an address (text); 4 for text that is no address."""
    try:
        return ipaddress.ip_address(address).version
    except ValueError:
        return 4


def containers(topo):
    """(host, container name, its addresses): both families, prefixes cut, IPv6 compressed."""
    for host in topo.hosts:
        for container in host.vars.get("crossnet_containers") or []:
            yield host, container["name"], [_canonical(str(a).split("/", maxsplit=1)[0])
                                            for a in container.get("addresses") or []]


def of_family(addresses, version):
    return [a for a in addresses if family(a) == version]


def node_address_toward(node, address):
    """The node's own address (of the family of ``address``) on the link toward ``address``:
    the link whose subnet holds it, else the one holding the next hop of the node's route to
    it, else the node's first of that family (None if it has none)."""
    version = family(address)
    link = node.link_to(address)
    route = node.route_to(address) if link is None else None
    if route is not None:
        link = node.link_to(route.via)
    if link is not None and link.interface(version) is not None:
        return str(link.interface(version).ip)
    return node.address_of(version)


def targets(topo):
    """Every container, every host and every outside node (not routers); ``addresses``: the
    target's address of each family it has ({4: ..., 6: ...}), ``address`` its first (IPv4
    unless it has IPv6 only)."""
    for host, name, addresses in containers(topo):
        by_family = {v: of_family(addresses, v)[0] for v in FAMILIES if of_family(addresses, v)}
        if by_family:
            yield {"kind": "container", "node": host.name, "netns": name, "label": "%s/%s" % (host.name, name),
                   "address": by_family.get(4) or by_family[6], "addresses": by_family}
    for node in topo.nodes:
        if node.kind in TARGET_KINDS:
            by_family = {v: node.address_of(v) for v in FAMILIES if node.address_of(v)}
            yield {"kind": node.kind, "node": node.name, "netns": None, "label": node.name, "address": node.address,
                   "addresses": by_family}


def senders(topo, sources="all"):
    """The source containers: every one (``all``) or the first of each host (``first``)."""
    if sources not in SOURCES:
        raise core.LabError("sources: one of %s, not %r" % (", ".join(SOURCES), sources))
    chosen, hosts = [], set()
    for host, name, addresses in containers(topo):
        if sources == "all" or host.name not in hosts:
            chosen.append((host, name, addresses))
            hosts.add(host.name)
    return chosen


def _start_servers(lab, goals, servers):
    """One server per node, listening in the node's own namespace and in each of its target
    containers' (one Python per host, not per container), all started at once; appended to
    ``servers`` as they start, so the caller stops them whatever happens.  Waits until each
    says "ready"."""
    nodes = {}
    for target in goals:
        nodes.setdefault(target["node"], []).append(target["netns"] or ".")
    started = []
    for node, namespaces in nodes.items():
        argv = [core.PYTHON, core.WHOAMI, "serve", str(PORT), str(SERVER_LIFETIME), "stdin"]
        if namespaces != ["."]:
            argv += namespaces
        servers.append(subprocess.Popen(lab.argv(node, argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, env=lab.env()))
        started.append((node, servers[-1]))
    deadline = time.monotonic() + SERVER_START + SERVER_START_EACH * len(started)
    with selectors.DefaultSelector() as waiting:  # epoll: more than 1024 descriptors is fine
        for node, proc in started:
            waiting.register(proc.stdout, selectors.EVENT_READ, (node, proc))
        while waiting.get_map():
            left = deadline - time.monotonic()
            events = waiting.select(left) if left > 0 else []
            if not events:
                late = sorted(key.data[0] for key in waiting.get_map().values())
                raise core.LabError("who-are-you servers did not start in time on %s" % ", ".join(late))
            for key, _mask in events:
                node, proc = key.data
                line = proc.stdout.readline()
                if line.strip() != b"ready":
                    proc.kill()
                    said = (line + proc.stdout.read()).decode(errors="replace").strip()
                    raise core.LabError("who-are-you server on %s did not start: %s" % (node, said))
                waiting.unregister(proc.stdout)


def _stop_servers(servers):
    """Close their standard input: each server ends by itself.  Kill what is still there."""
    for proc in servers:
        try:
            proc.stdin.close()
        except OSError:
            pass
    deadline = time.monotonic() + 10
    for proc in servers:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def probe(lab, sources="all", jobs=JOBS):
    """Rows in the order of the source containers, then of the targets.  ``sources``: every
    container (``all``) or the first container of each host (``first``); ``jobs``: sweeps at
    once."""
    topo = lab.topology()
    chosen = senders(topo, sources)
    goals = list(targets(topo))
    servers = []
    try:
        _start_servers(lab, goals, servers)
        with concurrent.futures.ThreadPoolExecutor(max(1, int(jobs))) as pool:
            swept = list(pool.map(lambda sender: _sweep(lab, sender, goals, topo), chosen))
    finally:
        _stop_servers(servers)
    return [row for rows in swept for row in rows]


def _underlay_path(topo, host, target, version=4):
    """The routers between the sending host and the target's node (for a container: its host),
    over IP version ``version``, as the topology's links and routes go: [] on a shared
    segment, None when it has no route (or the target's node no address of that family)."""
    address = topo.node(target["node"]).address_of(version)
    return None if address is None else topo.routers_on_path(host, address)


def _rows(sender, goals, topo):
    """One row per target and family that both the sending container and the target have."""
    host, name, addresses = sender
    rows = []
    for target in goals:
        if target["kind"] == "container" and (target["node"], target["netns"]) == (host.name, name):
            continue
        if target["kind"] == "host" and target["node"] == host.name:
            continue
        for version in FAMILIES:
            own = of_family(addresses, version)
            address = target["addresses"].get(version)
            if not own or address is None:
                continue
            if target["kind"] == "container":
                expected = own
            else:
                node_address = node_address_toward(host, address)
                expected = [node_address] if node_address else []
            rows.append({"from": "%s/%s" % (host.name, name), "to": target["label"], "kind": target["kind"],
                         "family": version, "address": address, "expected_source": expected,
                         "path": _underlay_path(topo, host, target, version)})
    return rows


def _sweep(lab, sender, goals, topo):
    """One process in the sender's container pings and asks every target of its rows."""
    host, name, _addresses = sender
    rows = _rows(sender, goals, topo)
    if not rows:
        return rows
    addresses = list(dict.fromkeys(r["address"] for r in rows))
    # Bounded even if every target is dead: the pings, then the asks ASKERS at a time.
    limit = 60 + whoami.PING_TIMEOUT + TIMEOUT * math.ceil(len(addresses) / whoami.ASKERS)
    start = time.monotonic()
    answers, failure = {}, None
    try:
        proc = lab.run(host.name, [core.PYTHON, core.WHOAMI, "sweep", str(PORT), str(TIMEOUT)] + addresses, name,
                       timeout=limit)
    except subprocess.TimeoutExpired:
        failure = "sweep: no answer in %d s" % limit
    else:
        for line in proc.stdout.splitlines():
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            answers[answer["address"]] = answer
        failure = "sweep: exit %d: %s" % (proc.returncode, proc.stderr.strip())
    seconds = round((time.monotonic() - start) / max(1, len(rows)), 3)
    for row in rows:
        answer = answers.get(row["address"]) or {"ping_ms": None, "seen": None, "error": failure}
        row["ping"] = answer["ping_ms"] is not None
        row["ping_ms"] = answer["ping_ms"]
        row["seen_source"] = answer["seen"]
        row["error"] = answer["error"]
        row["ok"] = row["ping"] and _canonical(row["seen_source"] or "") in row["expected_source"]
        row["seconds"] = seconds  # the sweep's time per row
    return rows


def render(rows):
    """Text matrix: one line per source, one column per target; a cell is the source address
    the receiver saw (``-`` = no answer, ``!`` = unexpected source, ``~`` = ping failed).  The
    IPv4 rows first, as in a lab without IPv6; then, if there are IPv6 rows, their own matrix
    headed ``IPv6: from \\ to`` and, under the count of every row, a line per family."""
    lines = []
    for version in FAMILIES:
        matrix = [r for r in rows if r.get("family", 4) == version]
        if matrix or (version == 4 and not rows):
            lines.extend(_matrix(matrix, "from \\ to" if version == 4 else "IPv6: from \\ to"))
    lines.extend(_routed_lines(rows))
    bad = [r for r in rows if not r["ok"]]
    lines.append("%d of %d paths as expected (container->container keeps its source; "
                 "toward hosts and outside nodes the source is the sending host)" % (len(rows) - len(bad), len(rows)))
    if any(r.get("family", 4) == 6 for r in rows):
        counts = []
        for version in FAMILIES:
            of_version = [r for r in rows if r.get("family", 4) == version]
            counts.append("IPv%d %d of %d" % (version, sum(1 for r in of_version if r["ok"]), len(of_version)))
        lines.append("by family: " + ", ".join(counts))
    for row in bad:
        lines.append("  FAIL %s -> %s (%s): ping=%s seen=%s expected=%s %s"
                     % (row["from"], row["to"], row["address"], row["ping"], row["seen_source"],
                        "|".join(row["expected_source"]), row["error"] or ""))
    return "\n".join(lines)


def _matrix(rows, corner):
    sources = list(dict.fromkeys(r["from"] for r in rows))
    order = {"container": 0, "host": 1, "outside": 2}
    kinds = {r["to"]: r["kind"] for r in rows}
    dests = sorted(dict.fromkeys(r["to"] for r in rows), key=lambda d: (order[kinds[d]], d))
    cells = {(r["from"], r["to"]): r for r in rows}
    seen = [len(r["seen_source"] or "") for r in rows]  # IPv6 addresses are longer than 15
    width = max([len(s) for s in sources + dests + [corner]] + seen + [15]) + 2
    lines = [corner.ljust(width) + "".join(d.ljust(width) for d in dests)]
    for src in sources:
        line = src.ljust(width)
        for dst in dests:
            row = cells.get((src, dst))
            if row is None:
                text = ""
            else:
                text = row["seen_source"] or "-"
                if row["seen_source"] and _canonical(row["seen_source"]) not in row["expected_source"]:
                    text += "!"
                if not row["ping"]:
                    text += "~"
            line += text.ljust(width)
        lines.append(line.rstrip())
    return lines


def _routed_lines(rows):
    """One line per sending host and path that is not a shared segment, e.g.
    ``host1 -> host3, host3/web, outside: via router``; none in a lab without routers.  A
    target whose path differs between the families is named with its family on each line
    (``outside (IPv6)``)."""
    hows = {}  # (host, target): {family: how}
    for row in rows:
        path = row.get("path")
        how = None if path == [] else ("via " + " > ".join(path) if path else "no route in the topology")
        hows.setdefault((row["from"].split("/")[0], row["to"]), {})[row.get("family", 4)] = how
    reached = {}
    for (host, to), by_family in hows.items():
        split = len(set(by_family.values())) > 1
        for version, how in by_family.items():
            if how is not None:
                label = "%s (IPv%d)" % (to, version) if split else to
                reached.setdefault((host, how), []).append(label)
    return ["%s -> %s: %s" % (host, ", ".join(dict.fromkeys(to)), how) for (host, how), to in reached.items()]
