# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""crossnet.routed.veth_pair against the kernel, inside a sandbox."""

from __future__ import annotations

import json

PAIRS = [
    {"netns": "cnt1-a", "host_ifname": "cnt1va", "addresses": ["10.9.0.1"], "mtu": 1400, "gateway": "169.254.1.1"},
    {"netns": "cnt1-b", "addresses": ["10.9.0.2/32"], "gateway": "169.254.1.1"},
]


def link(box, name, netns=None):
    argv = ["ip", "-j", "-d", "link", "show", "dev", name]
    proc = box.netns_run(netns, argv) if netns else box.run(argv)
    return json.loads(proc.stdout)[0] if proc.returncode == 0 else None


def addresses(box, netns, dev="eth0"):
    data = json.loads(box.netns_run(netns, ["ip", "-j", "-4", "addr", "show", "dev", dev]).stdout)
    return sorted("%s/%s" % (a["local"], a["prefixlen"]) for a in data[0]["addr_info"])


def neighbour(box, netns, dst="169.254.1.1"):
    data = json.loads(box.netns_run(netns, ["ip", "-j", "neigh", "show", dst]).stdout)
    return (data[0]["lladdr"], data[0]["state"]) if data else None


def setup(box):
    assert not box.run_module("netns", {"names": ["cnt1-a", "cnt1-b"]})["failed"]


def test_create_idempotent_check_and_diff(sandbox):
    setup(sandbox)
    predicted = sandbox.run_module("veth_pair", {"pairs": PAIRS}, check=True, diff=True)
    assert predicted["changed"] is True and len(predicted["created"]) == 2
    assert link(sandbox, "cnt1va") is None
    done = sandbox.run_module("veth_pair", {"pairs": PAIRS}, diff=True)
    assert done["changed"] and not done["failed"], done.get("msg")
    host_b = done["pairs"][1]["host_ifname"]
    assert host_b.startswith("cnr") and len(host_b) == 14
    host = link(sandbox, "cnt1va")
    assert host["ifalias"] == "crossnet:cnt1-a" and host["mtu"] == 1400 and "UP" in host["flags"]
    assert done["pairs"][0]["mac"] == host["address"]
    peer = link(sandbox, "eth0", "cnt1-a")
    assert peer["mtu"] == 1400 and "UP" in peer["flags"]
    assert addresses(sandbox, "cnt1-a") == ["10.9.0.1/32"]
    assert neighbour(sandbox, "cnt1-a") == (host["address"], ["PERMANENT"])
    assert done["diff"]["before"] == {"pairs": []}
    assert [p["host_ifname"] for p in done["diff"]["after"]["pairs"]] == ["cnt1va", host_b]
    again = sandbox.run_module("veth_pair", {"pairs": PAIRS}, diff=True)
    assert again["changed"] is False and again["diff"]["before"] == again["diff"]["after"]
    assert sandbox.run_module("veth_pair", {"pairs": PAIRS}, check=True)["changed"] is False


def test_drift_is_repaired(sandbox):
    setup(sandbox)
    sandbox.run_module("veth_pair", {"pairs": PAIRS})
    # (removing the last IPv4 address of a device flushes its neighbours, permanent ones too)
    sandbox.netns_run("cnt1-a", ["ip", "addr", "add", "10.9.9.9/32", "dev", "eth0"], check=True)
    sandbox.netns_run("cnt1-a", ["ip", "addr", "del", "10.9.0.1/32", "dev", "eth0"], check=True)
    sandbox.netns_run("cnt1-a", ["ip", "neigh", "del", "169.254.1.1", "dev", "eth0"], check=True)
    sandbox.netns_run("cnt1-a", ["ip", "link", "set", "eth0", "mtu", "1300", "down"], check=True)
    sandbox.run(["ip", "link", "set", "cnt1va", "down"], check=True)
    predicted = sandbox.run_module("veth_pair", {"pairs": PAIRS}, check=True, diff=True)
    assert predicted["changed"] and predicted["changed_pairs"] == ["cnt1va"]
    assert addresses(sandbox, "cnt1-a") == ["10.9.9.9/32"]
    fixed = sandbox.run_module("veth_pair", {"pairs": PAIRS})
    assert fixed["changed"] and fixed["changed_pairs"] == ["cnt1va"] and fixed["created"] == []
    assert addresses(sandbox, "cnt1-a") == ["10.9.0.1/32"]
    assert neighbour(sandbox, "cnt1-a")[1] == ["PERMANENT"]
    peer = link(sandbox, "eth0", "cnt1-a")
    assert peer["mtu"] == 1400 and "UP" in peer["flags"] and "UP" in link(sandbox, "cnt1va")["flags"]
    # peer moved to another namespace: the pair is rebuilt where it belongs
    sandbox.run(["ip", "netns", "add", "cnt1-c"], check=True)
    sandbox.netns_run("cnt1-a", ["ip", "link", "set", "eth0", "netns", "cnt1-c"], check=True)
    rebuilt = sandbox.run_module("veth_pair", {"pairs": PAIRS})
    assert rebuilt["changed"] and rebuilt["created"] == ["cnt1va"]
    assert addresses(sandbox, "cnt1-a") == ["10.9.0.1/32"]
    assert sandbox.run_module("veth_pair", {"pairs": PAIRS})["changed"] is False


def test_foreign_purge_and_absent(sandbox):
    setup(sandbox)
    sandbox.run(["ip", "link", "add", "cnt1va", "type", "veth", "peer", "name", "eth0", "netns", "cnt1-a"], check=True)
    sandbox.run(["ip", "link", "add", "cnt1fx", "type", "veth", "peer", "name", "cnt1fy"], check=True)
    refused = sandbox.run_module("veth_pair", {"pairs": PAIRS})
    assert refused["failed"] and "cnt1va" in refused["msg"] and "adopt" in refused["msg"]
    assert "ifalias" not in link(sandbox, "cnt1va")
    adopted = sandbox.run_module("veth_pair", {"pairs": PAIRS, "adopt": True})
    assert adopted["changed"] and link(sandbox, "cnt1va")["ifalias"] == "crossnet:cnt1-a"
    purged = sandbox.run_module("veth_pair", {"pairs": PAIRS[:1], "purge": True})
    assert purged["removed"] == [adopted["pairs"][1]["host_ifname"]]
    assert link(sandbox, "cnt1fx") is not None and link(sandbox, "cnt1va") is not None
    absent = sandbox.run_module("veth_pair", {"pairs": PAIRS[:1], "state": "absent"}, diff=True)
    assert absent["changed"] and absent["removed"] == ["cnt1va"] and link(sandbox, "cnt1va") is None
    assert absent["diff"]["after"] == {"pairs": []}
    refused = sandbox.run_module("veth_pair", {"pairs": [{"netns": "cnt1-a", "host_ifname": "cnt1fx"}], "state": "absent"})
    assert refused["failed"] and "cnt1fx" in refused["msg"] and link(sandbox, "cnt1fx") is not None


def test_name_errors_and_missing_namespace(sandbox):
    long_name = sandbox.run_module("veth_pair", {"pairs": [{"netns": "cnt1-a", "host_ifname": "a" * 16}]})
    assert long_name["failed"] and "a" * 16 in long_name["msg"] and "15" in long_name["msg"]
    bad_ns = sandbox.run_module("veth_pair", {"pairs": [{"netns": "bad name"}]})
    assert bad_ns["failed"] and "bad name" in bad_ns["msg"]
    missing = sandbox.run_module("veth_pair", {"pairs": [{"netns": "cnt1-nope", "host_ifname": "cnt1vn"}]})
    assert missing["failed"] and "cnt1-nope" in missing["msg"] and link(sandbox, "cnt1vn") is None
    predicted = sandbox.run_module("veth_pair", {"pairs": [{"netns": "cnt1-nope", "host_ifname": "cnt1vn"}]}, check=True)
    assert predicted["changed"] and not predicted["failed"]
