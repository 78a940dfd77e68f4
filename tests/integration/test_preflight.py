# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""crossnet.routed.preflight on a fake host, under both pyroute2s."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def host(sandbox):
    """A fake host with uplink up0 (192.168.9.3/24, a route via 192.168.9.1 to 10.99.0.0/24)
    and a second interface other0 (10.50.0.1/24)."""
    for argv in (
        ["ip", "link", "add", "up0", "type", "veth", "peer", "name", "up0p"],
        ["ip", "link", "add", "other0", "type", "veth", "peer", "name", "other0p"],
        ["ip", "addr", "add", "192.168.9.3/24", "dev", "up0"],
        ["ip", "addr", "add", "10.50.0.1/24", "dev", "other0"],
        ["ip", "link", "set", "up0", "up"], ["ip", "link", "set", "up0p", "up"],
        ["ip", "link", "set", "other0", "up"], ["ip", "link", "set", "other0p", "up"],
        ["ip", "route", "add", "10.99.0.0/24", "via", "192.168.9.1", "dev", "up0"],
    ):
        sandbox.run(argv, check=True)
    # A veth reports carrier a moment after both ends are up; the snapshots compare link state.
    deadline = time.monotonic() + 10
    while "NO-CARRIER" in sandbox.run(["ip", "-o", "link"]).stdout:
        assert time.monotonic() < deadline, "the sandbox's veths never got carrier"
        time.sleep(0.05)
    return sandbox


def snapshot(box):
    # IPv4 only: IPv6 link-local addresses finish DAD on their own while the test runs.
    commands = (["ip", "-br", "link"], ["ip", "-4", "addr"],
                ["ip", "-4", "route", "show", "table", "all"], ["ip", "-4", "neigh"])
    return [box.run(argv).stdout for argv in commands]


@pytest.mark.parametrize("check", [False, True])
def test_good_host_passes_and_changes_nothing(host, check):
    before = snapshot(host)
    result = host.run_module("preflight", {
        "host": "host1", "uplink": "up0", "node_address": "192.168.9.3",
        "peers": [{"host": "host2", "address": "192.168.9.4"},
                  {"host": "host3", "address": "192.168.9.200"}]}, check=check)
    assert result["failed"] is False, result.get("msg")
    assert result["changed"] is False
    assert result["uplink_up"] is True and result["uplink_addresses"] == ["192.168.9.3"]
    assert [(p["host"], p["gateway"], p["source"]) for p in result["peers"]] == [
        ("host2", None, "192.168.9.3"), ("host3", None, "192.168.9.3")]
    assert snapshot(host) == before


def test_every_bad_peer_is_named(host):
    result = host.run_module("preflight", {
        "host": "host1", "uplink": "up0", "node_address": "192.168.9.3",
        "peers": [{"host": "good", "address": "192.168.9.4"},
                  {"host": "routed", "address": "10.99.0.5"},
                  {"host": "elsewhere", "address": "10.50.0.2"},
                  {"host": "nowhere", "address": "172.31.0.1"},
                  {"host": "self", "address": "192.168.9.3"}]})
    assert result["failed"] is True
    errors = result["errors"]
    assert len(errors) == 4, errors
    assert "host host1: peer routed node address 10.99.0.5 is not on-link via uplink up0: " \
           "the kernel routes it via gateway 192.168.9.1" in errors
    assert "host host1: peer elsewhere node address 10.50.0.2 is not on-link via uplink up0: " \
           "the kernel routes it via other0" in errors
    assert any(e.startswith("host host1: peer nowhere node address 172.31.0.1 is not reachable")
               for e in errors)
    assert "host host1: peer self node address 192.168.9.3 is an address of this host" in errors
    assert all(e in result["msg"] for e in errors)


def test_missing_uplink(host):
    result = host.run_module("preflight", {"host": "host1", "uplink": "eth7",
                                           "node_address": "192.168.9.3"}, check=True)
    assert result["failed"] is True
    assert result["msg"] == "host host1: uplink eth7 does not exist"


def test_node_address_not_on_uplink_and_uplink_down(host):
    host.run(["ip", "link", "set", "up0", "down"], check=True)
    result = host.run_module("preflight", {"host": "host1", "uplink": "up0",
                                           "node_address": "10.50.0.1"})
    assert result["failed"] is True
    assert result["errors"] == [
        "host host1: uplink up0 is down",
        "host host1: node address 10.50.0.1 is not on uplink up0 (it has 192.168.9.3)",
    ]


def test_overlay_peers_need_a_route_not_a_link(host):
    """A peer reached through the VXLAN overlay may sit behind a router or another interface;
    it must only be routable (not local, not unreachable, not a blackhole)."""
    host.run(["ip", "route", "add", "unreachable", "172.30.0.0/16"], check=True)
    host.run(["ip", "route", "add", "blackhole", "172.29.0.0/16"], check=True)
    before = snapshot(host)
    result = host.run_module("preflight", {
        "host": "host1", "uplink": "up0", "node_address": "192.168.9.3",
        "peers": [{"host": "routed", "address": "10.99.0.5", "overlay": True},
                  {"host": "elsewhere", "address": "10.50.0.2", "overlay": True},
                  {"host": "onlink", "address": "192.168.9.4", "overlay": True},
                  {"host": "nowhere", "address": "172.31.0.1", "overlay": True},
                  {"host": "unreachable", "address": "172.30.0.1", "overlay": True},
                  {"host": "blackhole", "address": "172.29.0.1", "overlay": True},
                  {"host": "self", "address": "192.168.9.3", "overlay": True},
                  {"host": "direct", "address": "10.99.0.6"}]}, check=True)
    assert snapshot(host) == before
    assert result["failed"] is True
    peers = {peer["host"]: peer for peer in result["peers"]}
    assert (peers["routed"]["next_hop"], peers["routed"]["interface"]) == ("192.168.9.1", "up0")
    assert (peers["elsewhere"]["next_hop"], peers["elsewhere"]["interface"]) == ("on-link", "other0")
    assert (peers["onlink"]["next_hop"], peers["onlink"]["interface"]) == ("on-link", "up0")
    assert "next_hop" not in peers["direct"]
    errors = result["errors"]
    assert len(errors) == 5, errors
    assert any(e.startswith("host host1: peer nowhere node address 172.31.0.1 is not reachable") for e in errors)
    assert any(e.startswith("host host1: peer unreachable node address 172.30.0.1 is not reachable") for e in errors)
    # (This kernel answers the lookup of a blackhole route with EINVAL, not with the route.)
    assert any(e.startswith("host host1: peer blackhole node address 172.29.0.1 is not reachable") for e in errors)
    assert "host host1: peer self node address 192.168.9.3 is an address of this host" in errors
    # Without overlay the same peer behind the router is refused, as before.
    assert "host host1: peer direct node address 10.99.0.6 is not on-link via uplink up0: " \
           "the kernel routes it via gateway 192.168.9.1" in errors


def test_ipv6_node_address_and_peers(sandbox):
    """The IPv6 node address must be a global address of the uplink; a peer's IPv6 node address
    on-link via the uplink (never through the overlay, whatever its IPv4 address does)."""
    for argv in (["ip", "link", "add", "up-6", "type", "veth", "peer", "name", "up6p"],
                 ["ip", "link", "add", "alt6", "type", "veth", "peer", "name", "alt6p"],
                 ["ip", "addr", "add", "192.168.9.3/24", "dev", "up-6"],
                 ["ip", "-6", "addr", "add", "fd00:9::3/64", "dev", "up-6", "nodad"],
                 ["ip", "-6", "addr", "add", "fd00:8::3/64", "dev", "alt6", "nodad"],
                 ["ip", "link", "set", "up-6", "up"], ["ip", "link", "set", "alt6", "up"],
                 ["ip", "-6", "route", "add", "fd00:7::/64", "via", "fd00:9::1", "dev", "up-6"]):
        sandbox.run(argv, check=True)
    peers = [{"host": "host2", "address": "192.168.9.4", "address6": "fd00:9::4"},
             {"host": "host3", "address": "192.168.9.5", "address6": "fd00:8::5"},
             {"host": "host4", "address": "192.168.9.6", "address6": "fd00:7::6"},
             {"host": "host5", "address": "192.168.9.7"}]
    fine = sandbox.run_module("preflight", {"host": "host1", "uplink": "up-6", "node_address": "192.168.9.3",
                                            "node_address6": "fd00:9:0::3", "peers": peers[:1] + peers[3:]})
    assert fine["failed"] is False, fine.get("msg")
    assert fine["uplink_addresses6"] == ["fd00:9::3"]
    assert [p["address"] for p in fine["peers"]] == ["192.168.9.4", "fd00:9::4", "192.168.9.7"]
    failed = sandbox.run_module("preflight", {"host": "host1", "uplink": "up-6", "node_address": "192.168.9.3",
                                              "node_address6": "fd00:8::3", "peers": peers})
    errors = failed["errors"]
    assert failed["failed"] and len(errors) == 3, errors
    assert "IPv6 node address fd00:8::3 is not on uplink up-6 (it has fd00:9::3)" in errors[0]
    assert "peer host3 IPv6 node address fd00:8::5 is not on-link via uplink up-6" in errors[1]
    assert "via alt6" in errors[1]
    assert "peer host4 IPv6 node address fd00:7::6 is not on-link" in errors[2] and "fd00:9::1" in errors[2]
