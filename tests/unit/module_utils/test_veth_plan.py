# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible_collections.crossnet.routed.plugins.module_utils import veth

MAC = "02:00:00:00:00:01"


def host(name, index=10, peer=2, alias="crossnet:c1", mtu=1500, up=True, kind="veth"):
    return {"index": index, "name": name, "kind": kind, "alias": alias, "mtu": mtu, "up": up, "mac": MAC, "link": peer}


def netns_view(peer_index=2, host_index=10, addrs=("10.0.0.1/32",), neigh=True, name="eth0", mtu=1500):
    links = {"lo": {"index": 1, "name": "lo", "kind": None, "alias": None, "mtu": 65536, "up": True, "mac": None, "link": None},
             name: {"index": peer_index, "name": name, "kind": "veth", "alias": None, "mtu": mtu, "up": True,
                    "mac": "02:00:00:00:00:02", "link": host_index}}
    return {"links": links, "addrs": {peer_index: set(addrs)},
            "neigh": {(peer_index, "169.254.1.1"): (MAC, veth.NUD_PERMANENT)} if neigh else {}}


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


def test_missing_pair_is_created():
    result = veth.plan(pairs(), "present", {}, {"c1": {"links": {}, "addrs": {}, "neigh": {}}})
    assert "not the peer" in veth.plan(pairs(), "present", {}, {"c1": netns_view()}).errors[0]
    assert [p["host_ifname"] for p in result.create] == ["v1"] and result.changed


def test_converged_pair_is_unchanged():
    result = veth.plan(pairs(), "present", {"v1": host("v1")}, {"c1": netns_view()})
    assert not result.changed and result.before == result.after


def test_drift_is_repaired():
    view = netns_view(addrs=("10.0.0.9/32",), neigh=False, mtu=1400)
    result = veth.plan(pairs(), "present", {"v1": host("v1", up=False)}, {"c1": view})
    ops = dict((op, value) for op, value in result.fixes[0][1])
    assert ops == {"peer_mtu": 1500, "host_up": None, "addr_add": "10.0.0.1/32", "addr_del": "10.0.0.9/32",
                   "gateway_neigh": "169.254.1.1"}
    assert result.changed_pairs == ["v1"]


def test_peer_in_wrong_namespace_is_rebuilt():
    result = veth.plan(pairs(), "present", {"v1": host("v1")}, {"c1": {"links": {}, "addrs": {}, "neigh": {}}})
    assert result.delete == ["v1"] and [p["host_ifname"] for p in result.create] == ["v1"]


def test_foreign_link_fails_unless_adopted():
    links = {"v1": host("v1", alias=None)}
    assert "not created by crossnet" in veth.plan(pairs(), "present", links, {"c1": netns_view()}).errors[0]
    adopted = veth.plan(pairs(), "present", links, {"c1": netns_view()}, adopt=True)
    assert not adopted.errors and adopted.fixes[0][1] == [("host_alias", "crossnet:c1")]
    assert "not a veth" in veth.plan(pairs(), "present", {"v1": host("v1", kind="bridge")}, {"c1": None}).errors[0]


def test_purge_and_absent_touch_only_owned():
    links = {"v1": host("v1"), "old": host("old", index=11), "mine-not": host("mine-not", index=12, alias=None)}
    result = veth.plan(pairs(), "present", links, {"c1": netns_view()}, purge=True)
    assert result.delete == ["old"]
    assert veth.plan(pairs(), "absent", links, {}).delete == ["v1"]
    assert veth.plan(pairs(host_ifname="mine-not"), "absent", links, {}).errors
