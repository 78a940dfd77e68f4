# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connectivity matrix of a lab: from every container (as listed in the topology's
``crossnet_containers``) to every other container, every other host and every outside node:
one ICMP echo, and a TCP connection to a "who are you" server that reports the source address
it saw.

Expected source seen by the receiver:
- another container: one of the sender's own addresses (routed, never NATed);
- another host or an outside node: the sending host's address on the link toward it
  (masqueraded).
"""

from __future__ import annotations

import ipaddress
import select
import subprocess
import time

from labkit import core

PORT = 7007
SERVER_LIFETIME = 120


def containers(topo):
    for host in topo.hosts:
        for container in host.vars.get("crossnet_containers") or []:
            yield host, container["name"], [str(a).split("/", maxsplit=1)[0] for a in container.get("addresses") or []]


def node_address_toward(node, address):
    """The node's own address on the link whose subnet holds ``address`` (else its first)."""
    target = ipaddress.IPv4Address(address)
    for link in node.links:
        if target in link.address.network:
            return str(link.address.ip)
    return node.address


def targets(topo):
    for host, name, addresses in containers(topo):
        if addresses:
            yield {"kind": "container", "node": host.name, "netns": name, "label": "%s/%s" % (host.name, name),
                   "address": addresses[0]}
    for node in topo.nodes:
        yield {"kind": node.kind, "node": node.name, "netns": None, "label": node.name, "address": node.address}


def _start_server(lab, target):
    proc = subprocess.Popen(
        lab.argv(target["node"], [core.PYTHON, core.WHOAMI, "serve", str(PORT), str(SERVER_LIFETIME)],
                 target["netns"]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=lab.env())
    readable = select.select([proc.stdout], [], [], 10)[0]
    if not readable or proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise core.LabError("who-are-you server on %s did not start: %s" % (target["label"], proc.stderr.read()))
    return proc


def probe(lab):
    topo = lab.topology()
    goals = list(targets(topo))
    servers = []
    rows = []
    try:
        for target in goals:
            servers.append(_start_server(lab, target))
        for host, name, addresses in containers(topo):
            for target in goals:
                if target["kind"] == "container" and (target["node"], target["netns"]) == (host.name, name):
                    continue
                if target["kind"] == "host" and target["node"] == host.name:
                    continue
                if target["kind"] == "container":
                    expected = addresses
                else:
                    expected = [node_address_toward(host, target["address"])]
                rows.append(_probe_one(lab, host.name, name, target, expected))
    finally:
        for proc in servers:
            proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
    return rows


def _probe_one(lab, node, netns, target, expected):
    row = {"from": "%s/%s" % (node, netns), "to": target["label"], "kind": target["kind"],
           "address": target["address"], "expected_source": expected}
    start = time.monotonic()
    ping = lab.run(node, [core.PYTHON, core.WHOAMI, "ping", target["address"], "2"], netns, timeout=15)
    row["ping"] = ping.returncode == 0
    row["ping_ms"] = float(ping.stdout) if ping.returncode == 0 else None
    ask = lab.run(node, [core.PYTHON, core.WHOAMI, "ask", target["address"], str(PORT), "3"], netns, timeout=15)
    row["seen_source"] = ask.stdout.strip() if ask.returncode == 0 else None
    row["error"] = " ".join(filter(None, [ping.stderr.strip(), ask.stderr.strip()])) or None
    row["ok"] = row["ping"] and row["seen_source"] in expected
    row["seconds"] = round(time.monotonic() - start, 3)
    return row


def render(rows):
    """Text matrix: one line per source, one column per target; a cell is the source address
    the receiver saw (``-`` = no answer, ``!`` = unexpected source, ``~`` = ping failed)."""
    sources = list(dict.fromkeys(r["from"] for r in rows))
    order = {"container": 0, "host": 1, "outside": 2}
    kinds = {r["to"]: r["kind"] for r in rows}
    dests = sorted(dict.fromkeys(r["to"] for r in rows), key=lambda d: (order[kinds[d]], d))
    cells = {(r["from"], r["to"]): r for r in rows}
    width = max([len(s) for s in sources + dests] + [15]) + 2
    lines = ["from \\ to".ljust(width) + "".join(d.ljust(width) for d in dests)]
    for src in sources:
        line = src.ljust(width)
        for dst in dests:
            row = cells.get((src, dst))
            if row is None:
                text = ""
            else:
                text = row["seen_source"] or "-"
                if row["seen_source"] and row["seen_source"] not in row["expected_source"]:
                    text += "!"
                if not row["ping"]:
                    text += "~"
            line += text.ljust(width)
        lines.append(line.rstrip())
    bad = [r for r in rows if not r["ok"]]
    lines.append("%d of %d paths as expected (container->container keeps its source; "
                 "toward hosts and outside nodes the source is the sending host)" % (len(rows) - len(bad), len(rows)))
    for row in bad:
        lines.append("  FAIL %s -> %s (%s): ping=%s seen=%s expected=%s %s"
                     % (row["from"], row["to"], row["address"], row["ping"], row["seen_source"],
                        "|".join(row["expected_source"]), row["error"] or ""))
    return "\n".join(lines)
