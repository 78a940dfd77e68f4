# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible_collections.crossnet.routed.plugins.module_utils import veth

MAC = "02:00:00:00:00:01"


def host(name, index=10, peer=2, alias="crossnet:c1", mtu=1500, up=True, kind="veth"):
    return {"index": index, "name": name, "kind": kind, "alias": alias, "mtu": mtu, "up": up, "mac": MAC, "link": peer}


def route(dest, gateway=None, scope="link", protocol=157, dev="eth0"):
    return {"netns": None, "dest": dest, "gateway": gateway, "dev": dev, "scope": scope, "onlink": False,
            "metric": 0, "protocol": protocol}


GATEWAY_ROUTES = {("169.254.1.1/32", 0): route("169.254.1.1/32"),
                  ("0.0.0.0/0", 0): route("0.0.0.0/0", "169.254.1.1", "universe")}


def netns_view(peer_index=2, host_index=10, addrs=("10.0.0.1/32",), neigh=True, name="eth0", mtu=1500,
               routes=None, lo_up=True):
    links = {"lo": {"index": 1, "name": "lo", "kind": None, "alias": None, "mtu": 65536, "up": lo_up, "mac": None, "link": None},
             name: {"index": peer_index, "name": name, "kind": "veth", "alias": None, "mtu": mtu, "up": True,
                    "mac": "02:00:00:00:00:02", "link": host_index}}
    return {"links": links, "addrs": {peer_index: set(addrs)},
            "neigh": {(peer_index, "169.254.1.1"): (MAC, veth.NUD_PERMANENT)} if neigh else {},
            "routes": dict(GATEWAY_ROUTES if routes is None else routes)}


def pairs(**overrides):
    raw = dict(netns="c1", host_ifname="v1", addresses=["10.0.0.1"], gateway="169.254.1.1", mtu=1500)
    raw.update(overrides)
    out, errors = veth.normalize_pairs([raw])
    assert not errors
    return out


def test_normalize_defaults_and_errors():
    out, errors = veth.normalize_pairs([{"netns": "c1", "addresses": ["10.0.0.1", "10.0.0.2/24"]}])
    assert out[0]["host_ifname"].startswith("cnr") and len(out[0]["host_ifname"]) == 14
    assert out[0]["peer_ifname"] == "eth0" and out[0]["addresses"] == ["10.0.0.1/32", "10.0.0.2/24"]
    assert not errors
    dummy, errors = veth.normalize_pairs([{"netns": "c1", "host_ifname": "a" * 16}])
    assert "16 characters" in errors[0]
    dummy, errors = veth.normalize_pairs([{"netns": "bad/name"}])
    assert "netns" in errors[0]


def test_normalize_refuses_two_gateways_in_one_namespace():
    dummy, errors = veth.normalize_pairs([{"netns": "c1", "gateway": "169.254.1.1"},
                                          {"netns": "c1", "peer_ifname": "eth1", "gateway": "169.254.1.1"}])
    assert errors == ["netns c1 has more than one pair with a gateway (one default route each)"]


def test_missing_pair_is_created_when_its_namespace_exists():
    result = veth.plan_host(pairs(), "present", {}, {"c1"})
    assert [p["host_ifname"] for p in result.create] == ["v1"] and result.changed
    assert [p["host_ifname"] for p in result.visit] == ["v1"]
    missing = veth.plan_host(pairs(), "present", {}, set())
    assert missing.errors == ["network namespace c1 (for interface v1) does not exist"]
    assert not veth.plan_host(pairs(), "present", {}, set(), check_mode=True).errors


def test_converged_pair_is_unchanged():
    host_plan = veth.plan_host(pairs(), "present", {"v1": host("v1")}, {"c1"})
    assert not host_plan.changed and not host_plan.errors
    result = veth.plan_netns(pairs(), {"v1": host("v1")}, netns_view())
    assert not result.changed and result.before == [veth.desired_view(pairs()[0], MAC)]


def test_new_pair_gets_everything_in_its_namespace():
    fresh = netns_view(addrs=(), neigh=False, routes={}, mtu=1500, lo_up=False)
    fresh["links"]["eth0"]["up"] = False
    result = veth.plan_netns(pairs(), {"v1": host("v1")}, fresh, created={"v1"})
    assert result.loopback_up == 1 and result.peer_links == [(2, {"state": "up"})]
    assert result.addr_add == [(2, "10.0.0.1/32")] and result.neigh == [(2, "169.254.1.1", MAC)]
    assert [(r["dest"], r["gateway"], r["scope"], r["dev"]) for r in result.routes] == [
        ("169.254.1.1/32", None, "link", "eth0"), ("0.0.0.0/0", "169.254.1.1", "universe", "eth0")]
    assert result.changed and result.changed_pairs == [] and result.before == []


def test_drift_is_repaired():
    view = netns_view(addrs=("10.0.0.9/32",), neigh=False, mtu=1400, routes={}, lo_up=False)
    host_plan = veth.plan_host(pairs(), "present", {"v1": host("v1", up=False)}, {"c1"})
    assert host_plan.host_fixes == [(pairs()[0], {"state": "up"})]
    result = veth.plan_netns(pairs(), {"v1": host("v1")}, view)
    assert result.loopback_up == 1 and result.peer_links == [(2, {"mtu": 1500})]
    assert result.addr_add == [(2, "10.0.0.1/32")] and result.addr_del == [(2, "10.0.0.9/32")]
    assert result.neigh == [(2, "169.254.1.1", MAC)] and len(result.routes) == 2
    assert result.changed_pairs == ["v1"]


def test_wrong_gateway_route_is_replaced_and_purge_removes_other_ours():
    routes = dict(GATEWAY_ROUTES)
    routes[("0.0.0.0/0", 0)] = route("0.0.0.0/0", "169.254.9.9", "universe")
    routes[("10.5.0.0/16", 0)] = route("10.5.0.0/16", "169.254.1.1", "universe")
    routes[("10.6.0.0/16", 0)] = route("10.6.0.0/16", "169.254.1.1", "universe", protocol=4)
    result = veth.plan_netns(pairs(), {"v1": host("v1")}, netns_view(routes=routes), purge=True)
    assert [(r["dest"], r["gateway"]) for r in result.routes] == [("0.0.0.0/0", "169.254.1.1")]
    assert [r["dest"] for r in result.route_del] == ["10.5.0.0/16"]
    assert not veth.plan_netns(pairs(), {"v1": host("v1")}, netns_view(routes=routes)).route_del


def test_foreign_container_route_fails_unless_adopted():
    routes = dict(GATEWAY_ROUTES)
    routes[("0.0.0.0/0", 0)] = route("0.0.0.0/0", "169.254.1.1", "universe", protocol=3)
    result = veth.plan_netns(pairs(), {"v1": host("v1")}, netns_view(routes=routes))
    assert "0.0.0.0/0 in netns c1 exists with protocol 3" in result.errors[0]
    adopted = veth.plan_netns(pairs(), {"v1": host("v1")}, netns_view(routes=routes), adopt=True)
    assert not adopted.errors and [r["dest"] for r in adopted.routes] == ["0.0.0.0/0"]


def test_peer_in_wrong_namespace_is_rebuilt_and_a_stranger_fails():
    empty = {"links": {}, "addrs": {}, "neigh": {}, "routes": {}}
    result = veth.plan_netns(pairs(), {"v1": host("v1")}, empty)
    assert [p["host_ifname"] for p in result.rebuild] == ["v1"]
    stranger = veth.plan_netns(pairs(), {"v1": host("v1")}, netns_view(host_index=99))
    assert "already has an interface eth0 that is not the peer of v1" in stranger.errors[0]


def test_foreign_link_fails_unless_adopted_or_recorded():
    links = {"v1": host("v1", alias=None)}
    assert "not created by crossnet" in veth.plan_host(pairs(), "present", links, {"c1"}).errors[0]
    adopted = veth.plan_host(pairs(), "present", links, {"c1"}, adopt=True)
    assert not adopted.errors and adopted.host_fixes == [(pairs()[0], {"ifalias": "crossnet:c1"})]
    # recorded before a creation that was killed before its alias: ours
    recorded = veth.plan_host(pairs(), "present", links, {"c1"}, recorded={"v1"})
    assert not recorded.errors and recorded.host_fixes == [(pairs()[0], {"ifalias": "crossnet:c1"})]
    # a recorded name whose link carries someone else's alias is not ours
    other = {"v1": host("v1", alias="theirs")}
    assert veth.plan_host(pairs(), "present", other, {"c1"}, recorded={"v1"}).errors
    assert "not a veth" in veth.plan_host(pairs(), "present", {"v1": host("v1", kind="bridge")}, {"c1"}).errors[0]


def test_purge_and_absent_touch_only_owned():
    links = {"v1": host("v1"), "old": host("old", index=11), "mine-not": host("mine-not", index=12, alias=None),
             "killed": host("killed", index=13, alias=None)}
    result = veth.plan_host(pairs(), "present", links, {"c1"}, recorded={"killed"}, purge=True)
    assert result.delete == ["killed", "old"]
    assert veth.plan_host(pairs(), "absent", links, set()).delete == ["v1"]
    assert veth.plan_host(pairs(host_ifname="mine-not"), "absent", links, set()).errors
