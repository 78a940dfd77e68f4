# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""crossnet.routed.veth_pair against the kernel, inside a sandbox."""

from __future__ import annotations

import json
import time

from pings import PING6

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
    return sorted("%s/%s" % (a["local"], a["prefixlen"]) for entry in data for a in entry["addr_info"])


def neighbour(box, netns, dst="169.254.1.1"):
    data = json.loads(box.netns_run(netns, ["ip", "-j", "neigh", "show", dst]).stdout)
    return (data[0]["lladdr"], data[0]["state"]) if data else None


def routes(box, netns):
    data = json.loads(box.netns_run(netns, ["ip", "-j", "-4", "route", "show", "table", "main", "proto", "157"]).stdout)
    return sorted((r["dst"], r.get("gateway"), r["dev"], r.get("scope", "global")) for r in data)


GATEWAY_ROUTES = [("169.254.1.1", None, "eth0", "link"), ("default", "169.254.1.1", "eth0", "global")]


def loopback_up(box, netns):
    return "UP" in box.netns_run(netns, ["ip", "-o", "link", "show", "lo"]).stdout.split(">")[0]


def state_file(box):
    proc = box.run(["cat", "/var/lib/crossnet/veth.json"])
    return json.loads(proc.stdout) if proc.returncode == 0 else None


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
    assert routes(sandbox, "cnt1-a") == GATEWAY_ROUTES and routes(sandbox, "cnt1-b") == GATEWAY_ROUTES
    assert state_file(sandbox) is None  # records only live until the alias is set
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
    sandbox.netns_run("cnt1-b", ["ip", "route", "del", "default"], check=True)
    sandbox.netns_run("cnt1-b", ["ip", "link", "set", "lo", "down"], check=True)
    predicted = sandbox.run_module("veth_pair", {"pairs": PAIRS}, check=True, diff=True)
    host_b = predicted["pairs"][1]["host_ifname"]
    assert predicted["changed"] and predicted["changed_pairs"] == ["cnt1va", host_b]
    assert predicted["loopback_up"] == ["cnt1-b"] and not loopback_up(sandbox, "cnt1-b")
    assert addresses(sandbox, "cnt1-a") == ["10.9.9.9/32"]
    fixed = sandbox.run_module("veth_pair", {"pairs": PAIRS})
    assert fixed["changed"] and fixed["changed_pairs"] == ["cnt1va", host_b] and fixed["created"] == []
    assert fixed["loopback_up"] == ["cnt1-b"] and loopback_up(sandbox, "cnt1-b")
    assert routes(sandbox, "cnt1-a") == GATEWAY_ROUTES and routes(sandbox, "cnt1-b") == GATEWAY_ROUTES
    assert addresses(sandbox, "cnt1-a") == ["10.9.0.1/32"]
    assert neighbour(sandbox, "cnt1-a")[1] == ["PERMANENT"]
    peer = link(sandbox, "eth0", "cnt1-a")
    assert peer["mtu"] == 1400 and "UP" in peer["flags"] and "UP" in link(sandbox, "cnt1va")["flags"]
    # peer moved to another namespace: the pair is rebuilt where it belongs
    sandbox.run(["ip", "netns", "add", "cnt1-c"], check=True)
    sandbox.netns_run("cnt1-a", ["ip", "link", "set", "eth0", "netns", "cnt1-c"], check=True)
    rebuilt = sandbox.run_module("veth_pair", {"pairs": PAIRS})
    assert rebuilt["changed"] and rebuilt["created"] == ["cnt1va"]
    assert addresses(sandbox, "cnt1-a") == ["10.9.0.1/32"] and routes(sandbox, "cnt1-a") == GATEWAY_ROUTES
    assert sandbox.run_module("veth_pair", {"pairs": PAIRS})["changed"] is False


def test_container_routes_purge_and_foreign(sandbox):
    setup(sandbox)
    sandbox.run_module("veth_pair", {"pairs": PAIRS})
    sandbox.netns_run("cnt1-a", ["ip", "route", "add", "10.7.0.0/16", "via", "169.254.1.1", "proto", "157"], check=True)
    sandbox.netns_run("cnt1-a", ["ip", "route", "add", "10.8.0.0/16", "via", "169.254.1.1"], check=True)
    kept = sandbox.run_module("veth_pair", {"pairs": PAIRS})
    assert kept["changed"] is False and ("10.7.0.0/16", "169.254.1.1", "eth0", "global") in routes(sandbox, "cnt1-a")
    purged = sandbox.run_module("veth_pair", {"pairs": PAIRS, "purge": True})
    assert purged["changed"] and purged["removed"] == [] and routes(sandbox, "cnt1-a") == GATEWAY_ROUTES
    assert "10.8.0.0/16" in sandbox.netns_run("cnt1-a", ["ip", "route"]).stdout  # not ours: stays
    # a default route of another protocol is not replaced unless adopted
    sandbox.netns_run("cnt1-b", ["ip", "route", "replace", "default", "via", "169.254.1.1", "proto", "boot"], check=True)
    refused = sandbox.run_module("veth_pair", {"pairs": PAIRS})
    assert refused["failed"] and "0.0.0.0/0 in netns cnt1-b" in refused["msg"] and "adopt" in refused["msg"]
    adopted = sandbox.run_module("veth_pair", {"pairs": PAIRS, "adopt": True})
    assert adopted["changed"] and routes(sandbox, "cnt1-b") == GATEWAY_ROUTES


def test_recorded_unaliased_link_is_ours(sandbox):
    """A run killed between creating a pair and setting its alias left the link recorded."""
    setup(sandbox)
    sandbox.run(["ip", "link", "add", "cnt1va", "type", "veth", "peer", "name", "eth0", "netns", "cnt1-a"], check=True)
    sandbox.run(["mkdir", "-p", "-m", "0700", "/var/lib/crossnet"], check=True)
    record = json.dumps({"creating": ["cnt1va", "cnt1gone"]})
    sandbox.run(["sh", "-c", 'umask 077; printf "%s" "$1" > /var/lib/crossnet/veth.json', "-", record], check=True)
    predicted = sandbox.run_module("veth_pair", {"pairs": PAIRS[:1]}, check=True)
    assert predicted["changed"] and not predicted["failed"], predicted.get("msg")
    repaired = sandbox.run_module("veth_pair", {"pairs": PAIRS[:1]})
    assert repaired["changed"] and not repaired["failed"], repaired.get("msg")
    assert repaired["changed_pairs"] == ["cnt1va"] and repaired["created"] == []
    assert link(sandbox, "cnt1va")["ifalias"] == "crossnet:cnt1-a"
    assert addresses(sandbox, "cnt1-a") == ["10.9.0.1/32"] and routes(sandbox, "cnt1-a") == GATEWAY_ROUTES
    assert state_file(sandbox) is None  # aliased, and the record of a link that is gone forgotten
    assert sandbox.run_module("veth_pair", {"pairs": PAIRS[:1]})["changed"] is False


def test_namespaces_removed_first_then_purge(sandbox):
    """The role's teardown order: the kernel drops the pairs with their namespaces, meanwhile
    the purge must not trip over host ends that vanish."""
    names = ["cnt1-t%d" % i for i in range(20)]
    assert not sandbox.run_module("netns", {"names": names})["failed"]
    pairs = [{"netns": n, "addresses": ["10.9.1.%d" % (i + 1)], "gateway": "169.254.1.1"} for i, n in enumerate(names)]
    assert not sandbox.run_module("veth_pair", {"pairs": pairs})["failed"]
    sandbox.run(["ip", "link", "add", "cnt1fx", "type", "veth", "peer", "name", "cnt1fy"], check=True)
    assert sandbox.run_module("netns", {"names": [], "purge": True})["removed"] == sorted(names)
    purged = sandbox.run_module("veth_pair", {"pairs": [], "purge": True})
    assert not purged["failed"], purged.get("msg")
    for dummy in range(50):
        if "cnr" not in sandbox.run(["ip", "-o", "link", "show"]).stdout:
            break
        time.sleep(0.1)
    assert "cnr" not in sandbox.run(["ip", "-o", "link", "show"]).stdout
    assert link(sandbox, "cnt1fx") is not None


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


# -- IPv6 ------------------------------------------------------------------------------------
PAIRS6 = [
    {"netns": "cnt1-d", "host_ifname": "cnt1vd", "addresses": ["10.9.0.4", "fd10:9::4"],
     "gateway": "169.254.1.1", "gateway6": "fe80::1"},
    {"netns": "cnt1-s", "host_ifname": "cnt1vs", "addresses": ["fd10:9::5/128"], "gateway6": "fe80::1"},
]
GATEWAY_ROUTES6 = [("default", "fe80::1", "eth0", 1024)]


def addresses6(box, netns, dev="eth0"):
    """Global IPv6 addresses with their flags (a tentative one would show ``tentative``)."""
    data = json.loads(box.netns_run(netns, ["ip", "-j", "-6", "addr", "show", "dev", dev, "scope", "global"]).stdout)
    return sorted(("%s/%s" % (a["local"], a["prefixlen"]), bool(a.get("tentative")))
                  for a in data[0]["addr_info"] if "local" in a)  # (ip lists the others as {})


def routes6(box, netns):
    data = json.loads(box.netns_run(netns, ["ip", "-j", "-6", "route", "show", "table", "main", "proto", "157"]).stdout)
    return sorted((r["dst"], r.get("gateway"), r["dev"], r.get("metric")) for r in data)


def setup6(box):
    assert not box.run_module("netns", {"names": ["cnt1-d", "cnt1-s"]})["failed"]


def test_ipv6_pairs_idempotent_check_and_diff(sandbox):
    setup6(sandbox)
    predicted = sandbox.run_module("veth_pair", {"pairs": PAIRS6}, check=True, diff=True)
    assert predicted["changed"] and sorted(predicted["created"]) == ["cnt1vd", "cnt1vs"]
    done = sandbox.run_module("veth_pair", {"pairs": PAIRS6}, diff=True)
    assert done["changed"] and not done["failed"], done.get("msg")
    assert addresses(sandbox, "cnt1-d") == ["10.9.0.4/32"]
    assert addresses6(sandbox, "cnt1-d") == [("fd10:9::4/128", False)]  # nodad: usable at once
    assert addresses6(sandbox, "cnt1-s") == [("fd10:9::5/128", False)]
    assert addresses(sandbox, "cnt1-s") == []  # IPv6 only: no IPv4 address, no IPv4 routes
    assert routes(sandbox, "cnt1-s") == [] and routes6(sandbox, "cnt1-s") == GATEWAY_ROUTES6
    assert routes(sandbox, "cnt1-d") == GATEWAY_ROUTES and routes6(sandbox, "cnt1-d") == GATEWAY_ROUTES6
    for netns, host in (("cnt1-d", "cnt1vd"), ("cnt1-s", "cnt1vs")):
        assert neighbour(sandbox, netns, "fe80::1") == (link(sandbox, host)["address"], ["PERMANENT"])
    assert [p["gateway6"] for p in done["diff"]["after"]["pairs"]] == ["fe80::1", "fe80::1"]
    again = sandbox.run_module("veth_pair", {"pairs": PAIRS6}, diff=True)
    assert again["changed"] is False and again["diff"]["before"] == again["diff"]["after"], again["diff"]
    assert sandbox.run_module("veth_pair", {"pairs": PAIRS6}, check=True)["changed"] is False
    # the kernel's link-local address on the peer is neither listed nor removed
    link_local = sandbox.netns_run("cnt1-s", ["ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link"])
    assert "fe80::" in link_local.stdout


def test_ipv6_drift_is_repaired_and_the_data_path_works(sandbox):
    setup6(sandbox)
    assert not sandbox.run_module("veth_pair", {"pairs": PAIRS6})["failed"]
    sandbox.netns_run("cnt1-s", ["ip", "-6", "addr", "add", "fd10:9::99/128", "dev", "eth0", "nodad"], check=True)
    sandbox.netns_run("cnt1-s", ["ip", "-6", "addr", "del", "fd10:9::5/128", "dev", "eth0"], check=True)
    sandbox.netns_run("cnt1-s", ["ip", "-6", "neigh", "del", "fe80::1", "dev", "eth0"], check=True)
    sandbox.netns_run("cnt1-d", ["ip", "-6", "route", "del", "default"], check=True)
    predicted = sandbox.run_module("veth_pair", {"pairs": PAIRS6}, check=True)
    assert predicted["changed"] and sorted(predicted["changed_pairs"]) == ["cnt1vd", "cnt1vs"]
    fixed = sandbox.run_module("veth_pair", {"pairs": PAIRS6})
    assert fixed["changed"] and sorted(fixed["changed_pairs"]) == ["cnt1vd", "cnt1vs"] and fixed["created"] == []
    assert addresses6(sandbox, "cnt1-s") == [("fd10:9::5/128", False)]
    assert neighbour(sandbox, "cnt1-s", "fe80::1")[1] == ["PERMANENT"]
    assert routes6(sandbox, "cnt1-d") == GATEWAY_ROUTES6
    assert sandbox.run_module("veth_pair", {"pairs": PAIRS6})["changed"] is False
    # host -> container over IPv6: the host's /128 route, the container's way back through fe80::1
    routed = sandbox.run_module("host_route", {"routes": [{"dest": "fd10:9::5", "dev": "cnt1vs"}]})
    assert routed["changed"] and not routed["failed"], routed.get("msg")
    ping = sandbox.run(["python3", "-c", PING6, "fd10:9::5"])
    assert ping.returncode == 0 and ping.stdout.strip() == "reply from fd10:9::5", ping.stdout + ping.stderr


def test_ipv6_foreign_default_route_and_bad_gateway6(sandbox):
    setup6(sandbox)
    sandbox.run_module("veth_pair", {"pairs": PAIRS6})
    sandbox.netns_run("cnt1-s", ["ip", "-6", "route", "replace", "default", "via", "fe80::1", "dev", "eth0",
                                 "proto", "boot"], check=True)
    refused = sandbox.run_module("veth_pair", {"pairs": PAIRS6})
    assert refused["failed"] and "::/0 in netns cnt1-s" in refused["msg"] and "adopt" in refused["msg"]
    adopted = sandbox.run_module("veth_pair", {"pairs": PAIRS6, "adopt": True})
    assert adopted["changed"] and routes6(sandbox, "cnt1-s") == GATEWAY_ROUTES6
    bad = sandbox.run_module("veth_pair", {"pairs": [dict(PAIRS6[1], gateway6="169.254.1.1")]})
    assert bad["failed"] and "169.254.1.1 is not an IPv6 address" in bad["msg"]


def test_a_former_gateway_entry_goes_with_purge(sandbox):
    """A pair that loses its IPv6 addresses (or whose gateway changes) keeps no permanent
    neighbour entry for the gateway it no longer has; an entry that is not the host end's stays."""
    setup6(sandbox)
    assert not sandbox.run_module("veth_pair", {"pairs": PAIRS6})["failed"]
    sandbox.netns_run("cnt1-d", ["ip", "neigh", "add", "169.254.9.9", "lladdr", "02:00:00:00:00:09", "dev", "eth0",
                                 "nud", "permanent"], check=True)  # not pointing at the host end: not ours
    four_only = [dict(PAIRS6[0], addresses=["10.9.0.4"], gateway6=None), dict(PAIRS6[1], gateway6="fe80::2")]
    kept = sandbox.run_module("veth_pair", {"pairs": four_only})
    assert kept["changed"] and neighbour(sandbox, "cnt1-d", "fe80::1") is not None  # without purge: left
    purged = sandbox.run_module("veth_pair", {"pairs": four_only, "purge": True})
    assert purged["changed"] and sorted(purged["changed_pairs"]) == ["cnt1vd", "cnt1vs"], purged
    assert neighbour(sandbox, "cnt1-d", "fe80::1") is None and routes6(sandbox, "cnt1-d") == []
    assert neighbour(sandbox, "cnt1-s", "fe80::1") is None
    assert neighbour(sandbox, "cnt1-s", "fe80::2")[1] == ["PERMANENT"]
    assert neighbour(sandbox, "cnt1-d", "169.254.9.9") == ("02:00:00:00:00:09", ["PERMANENT"])
    assert sandbox.run_module("veth_pair", {"pairs": four_only, "purge": True})["changed"] is False
