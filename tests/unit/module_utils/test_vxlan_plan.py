# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vxlan: input checks and the pure plan, on hand-made views of the kernel."""
from __future__ import annotations

import pytest

from ansible_collections.crossnet.routed.plugins.module_utils import vxlan

PEER = {"address": "10.255.0.9", "mac": "02:63:0a:ff:00:09", "remote": "192.168.20.3"}


class FakeRecord:
    def __init__(self, creating=(), neigh=(), fdb=()):
        self.creating = set(creating)
        self._entries = {"neigh": set(neigh), "fdb": set(fdb)}

    def entries(self, name):
        return self._entries


def tunnel(**extra):
    tunnels, errors = vxlan.normalize_tunnels([dict({"local": "192.168.10.2", "address": "10.255.0.7",
                                                     "mac": "02:63:0A:FF:00:07", "peers": [PEER]}, **extra)])
    assert not errors, errors
    return tunnels[0]


def view(device=None, neigh=None, fdb=None, addrs=None):
    links = {"eth0": {"index": 2, "name": "eth0", "kind": None, "alias": None, "mtu": 9000, "up": True,
                      "mac": "02:00:00:00:00:02"}}
    addresses = {2: ["192.168.10.2/24"]}
    if device is not None:
        links[device["name"]] = device
        addresses[device["index"]] = addrs if addrs is not None else ["10.255.0.7/32"]
    index = device["index"] if device else None
    return {"links": links, "addrs": addresses, "neigh": {index: neigh or {}}, "fdb": {index: fdb or {}}}


def device(**extra):
    return dict({"index": 7, "name": "crossnet-vxlan", "kind": "vxlan", "alias": "crossnet:vxlan", "mtu": 8950,
                 "up": True, "mac": "02:63:0a:ff:00:07", "vni": 4096, "port": 4789, "local": "192.168.10.2",
                 "learning": 0}, **extra)


def in_sync():
    return view(device(), neigh={PEER["address"]: (PEER["mac"], vxlan.NUD_PERMANENT)},
                fdb={PEER["mac"]: [PEER["remote"]]})


def test_defaults_and_mtu_from_the_uplink():
    want = tunnel()
    assert (want["name"], want["vni"], want["port"], want["mac"]) == ("crossnet-vxlan", 4096, 4789, "02:63:0a:ff:00:07")
    result = vxlan.plan([want], "present", view(), FakeRecord())
    assert [t["mtu"] for t in result.create] == [9000 - 50]
    assert len(result.neigh_set) == len(result.fdb_set) == 1 and result.addr_add


def test_in_sync_changes_nothing():
    result = vxlan.plan([tunnel()], "present", in_sync(), FakeRecord(neigh=[PEER["address"]], fdb=[PEER["mac"]]))
    assert not result.changed and not result.errors


@pytest.mark.parametrize("key, value", [("vni", 5000), ("port", 8472), ("local", "192.168.10.3")])
def test_fixed_settings_make_the_device_again(key, value):
    result = vxlan.plan([tunnel()], "present", view(device(**{key: value})), FakeRecord())
    assert [link["name"] for link in result.delete] == ["crossnet-vxlan"] and result.create


def test_unrecorded_entries_are_foreign():
    result = vxlan.plan([tunnel()], "present", in_sync(), FakeRecord())
    assert len(result.errors) == 2 and all("adopt" in error for error in result.errors)
    adopted = vxlan.plan([tunnel()], "present", in_sync(), FakeRecord(), adopt=True)
    assert not adopted.errors and not adopted.changed


def test_a_removed_peer_loses_only_its_recorded_entries():
    state = view(device(), neigh={PEER["address"]: (PEER["mac"], vxlan.NUD_PERMANENT),
                                  "10.9.9.9": ("02:aa:00:00:00:01", vxlan.NUD_PERMANENT)},
                 fdb={PEER["mac"]: [PEER["remote"]], "02:aa:00:00:00:01": ["192.168.30.1"]})
    result = vxlan.plan([tunnel(peers=[])], "present", state, FakeRecord(neigh=[PEER["address"]], fdb=[PEER["mac"]]))
    assert [ip for dummy, ip in result.neigh_del] == [PEER["address"]]
    assert [(mac, dst) for dummy, mac, dst in result.fdb_del] == [(PEER["mac"], PEER["remote"])]


def test_foreign_devices_are_refused():
    theirs = view(device(alias=None))
    assert "adopt" in vxlan.plan([tunnel()], "present", theirs, FakeRecord()).errors[0]
    assert not vxlan.plan([tunnel()], "present", theirs, FakeRecord(creating=["crossnet-vxlan"])).errors
    other = view(device(name="theirs", alias=None))
    errors = vxlan.plan([tunnel()], "present", other, FakeRecord()).errors
    assert errors and "theirs" in errors[0] and "VNI 4096" in errors[0]
    not_vxlan = view(device(kind="veth", alias=None))
    assert "not a VXLAN device" in vxlan.plan([tunnel()], "present", not_vxlan, FakeRecord()).errors[0]


def test_purge_and_absent_delete_only_our_devices():
    ours, theirs = device(), device(index=8, name="theirs", alias=None, vni=9)
    state = view(ours)
    state["links"]["theirs"] = theirs
    assert [link["name"] for link in vxlan.plan([], "present", state, FakeRecord(), purge=True).delete] == \
        ["crossnet-vxlan"]
    assert not vxlan.plan([], "present", state, FakeRecord()).delete


@pytest.mark.parametrize("bad, words", [
    ({"vni": 0}, "vni 0"), ({"vni": 1 << 24}, "vni 16777216"), ({"port": 0}, "port 0"), ({"vni": True}, "vni True"),
    ({"local": "10.0.0"}, "not an IPv4 address"), ({"address": "10.0.0.1/24"}, "single address"),
    ({"mac": "01:00:00:00:00:01"}, "unicast"), ({"mac": "02:00:00:00:00"}, "not a MAC"),
    ({"peers": [PEER, dict(PEER, mac="02:00:00:00:00:99")]}, "listed more than once"),
    ({"peers": [dict(PEER, address="10.255.0.7")]}, "own address"), ({"peers": [{"address": "10.1.1.1"}]}, "needs"),
])
def test_bad_input(bad, words):
    dummy, errors = vxlan.normalize_tunnels([dict({"local": "192.168.10.2", "address": "10.255.0.7"}, **bad)])
    assert errors and words in errors[0], errors


def test_two_tunnels_on_one_vni_and_port():
    dummy, errors = vxlan.normalize_tunnels([{"local": "192.168.10.2"}, {"name": "vx2", "local": "192.168.10.2"}])
    assert errors == ["more than one tunnel has VNI 4096 on UDP port 4789"]


def test_kept_peer_keeps_its_entries():
    """A peer whose node address is unknown this run is not listed, but its entries stay."""
    recorded = FakeRecord(neigh=[PEER["address"]], fdb=[PEER["mac"]])
    assert vxlan.plan([tunnel(peers=[])], "present", in_sync(), recorded).changed
    kept = vxlan.plan([tunnel(peers=[])], "present", in_sync(), recorded, keep={PEER["address"]})
    assert not kept.changed and not kept.errors
