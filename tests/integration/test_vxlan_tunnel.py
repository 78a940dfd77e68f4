# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""crossnet.routed.vxlan_tunnel against the kernel, inside a sandbox (both pyroute2s): the
device, its entries, idempotence, check and diff mode, drift repair, peers removed one by one,
foreign objects and purge."""

from __future__ import annotations

import json

DEV = "crossnet-vxlan"
PEERS = [{"host": "h3", "address": "10.255.0.9", "mac": "02:63:0a:ff:00:09", "remote": "192.168.20.3"},
         {"host": "h4", "address": "10.255.0.10", "mac": "02:63:0a:ff:00:0a", "remote": "192.168.20.4"}]


def uplink(box, mtu=1500):
    """An uplink with the node address 192.168.77.2 (a veth inside the sandbox)."""
    for argv in (["ip", "link", "add", "up0", "mtu", str(mtu), "type", "veth", "peer", "name", "up0p"],
                 ["ip", "addr", "add", "192.168.77.2/24", "dev", "up0"],
                 ["ip", "link", "set", "up0", "up"], ["ip", "link", "set", "up0p", "up"]):
        box.run(argv, check=True)


def tunnel(peers=None, **extra):
    return dict({"local": "192.168.77.2", "address": "10.255.0.7", "mac": "02:63:0a:ff:00:07",
                 "peers": [dict(p) for p in (PEERS if peers is None else peers)]}, **extra)


def apply(box, tunnels, check=False, diff=False, **options):
    return box.run_module("vxlan_tunnel", dict({"tunnels": tunnels, "purge": True}, **options),
                          check=check, diff=diff)


def link(box, name=DEV):
    proc = box.run(["ip", "-d", "-j", "link", "show", "dev", name])
    return json.loads(proc.stdout)[0] if proc.returncode == 0 else None


def fdb(box, name=DEV):
    entries = json.loads(box.run(["bridge", "-j", "fdb", "show", "dev", name]).stdout or "[]")
    return sorted((e["mac"], e.get("dst"), "permanent" in e.get("state", "")) for e in entries)


def neigh(box, name=DEV):
    entries = json.loads(box.run(["ip", "-j", "-4", "neigh", "show", "dev", name]).stdout or "[]")
    return sorted((e["dst"], e.get("lladdr"), "PERMANENT" in e.get("state", [])) for e in entries)


def addresses(box, name=DEV):
    return [a["local"] + "/" + str(a["prefixlen"]) for a in link_addr(box, name)]


def link_addr(box, name):
    found = json.loads(box.run(["ip", "-j", "-4", "addr", "show", "dev", name]).stdout or "[]")
    return found[0]["addr_info"] if found else []


def expected_fdb(peers=None):
    return sorted((p["mac"], p["remote"], True) for p in (PEERS if peers is None else peers))


def expected_neigh(peers=None):
    return sorted((p["address"], p["mac"], True) for p in (PEERS if peers is None else peers))


def test_creates_the_device_and_entries_then_changes_nothing(sandbox):
    uplink(sandbox, mtu=1400)
    predicted = apply(sandbox, [tunnel()], check=True, diff=True)
    assert predicted["changed"] and not predicted["failed"], predicted.get("msg")
    assert link(sandbox) is None  # check mode
    assert predicted["diff"]["after"]["tunnels"][0]["mtu"] == 1350

    made = apply(sandbox, [tunnel()], diff=True)
    assert made["changed"] and made["created"] == [DEV], made.get("msg")
    info = link(sandbox)
    data = info["linkinfo"]["info_data"]
    assert (data["id"], data["port"], data["local"], data.get("learning")) == (4096, 4789, "192.168.77.2", False)
    assert "group" not in data and "remote" not in data
    assert (info["address"], info["mtu"], info["ifalias"]) == ("02:63:0a:ff:00:07", 1350, "crossnet:vxlan")
    assert "UP" in info["flags"]
    assert addresses(sandbox) == ["10.255.0.7/32"]
    assert fdb(sandbox) == expected_fdb() and neigh(sandbox) == expected_neigh()

    again = apply(sandbox, [tunnel()], diff=True)
    assert not again["changed"], again
    assert again["diff"]["before"] == again["diff"]["after"]


def test_repairs_drift(sandbox):
    uplink(sandbox)
    assert not apply(sandbox, [tunnel()])["failed"]
    sandbox.run(["bridge", "fdb", "del", PEERS[0]["mac"], "dev", DEV, "dst", PEERS[0]["remote"]], check=True)
    sandbox.run(["ip", "neigh", "del", PEERS[1]["address"], "dev", DEV], check=True)
    sandbox.run(["ip", "link", "set", DEV, "mtu", "1300", "address", "02:00:00:00:00:05"], check=True)
    sandbox.run(["ip", "addr", "flush", "dev", DEV], check=True)
    predicted = apply(sandbox, [tunnel()], check=True)
    assert predicted["changed"] and predicted["created"] == []
    repaired = apply(sandbox, [tunnel()])
    assert repaired["changed"] and repaired["created"] == [], repaired.get("msg")
    assert sorted(repaired["peers_added"]) == ["%s %s" % (DEV, p["address"]) for p in sorted(PEERS, key=lambda p: p["address"])]
    info = link(sandbox)
    assert (info["mtu"], info["address"]) == (1450, "02:63:0a:ff:00:07")
    assert addresses(sandbox) == ["10.255.0.7/32"]
    assert fdb(sandbox) == expected_fdb() and neigh(sandbox) == expected_neigh()
    # the device itself deleted: made again, entries and all
    sandbox.run(["ip", "link", "del", DEV], check=True)
    remade = apply(sandbox, [tunnel()])
    assert remade["created"] == [DEV] and fdb(sandbox) == expected_fdb() and neigh(sandbox) == expected_neigh()
    assert not apply(sandbox, [tunnel()])["changed"]


def test_new_vni_or_local_makes_the_device_again(sandbox):
    uplink(sandbox)
    assert not apply(sandbox, [tunnel()])["failed"]
    changed = apply(sandbox, [tunnel(vni=5000, port=8472)])
    assert changed["created"] == [DEV], changed.get("msg")
    data = link(sandbox)["linkinfo"]["info_data"]
    assert (data["id"], data["port"]) == (5000, 8472)
    assert fdb(sandbox) == expected_fdb()


def test_removing_a_peer_removes_exactly_its_entries(sandbox):
    uplink(sandbox)
    assert not apply(sandbox, [tunnel()])["failed"]
    # someone else's entries on our device are not ours to remove
    sandbox.run(["bridge", "fdb", "append", "02:aa:00:00:00:01", "dev", DEV, "dst", "192.168.30.9", "self",
                 "permanent"], check=True)
    sandbox.run(["ip", "neigh", "add", "10.255.9.9", "lladdr", "02:aa:00:00:00:01", "dev", DEV, "nud",
                 "permanent"], check=True)
    fewer = apply(sandbox, [tunnel(peers=PEERS[:1])], diff=True)
    assert fewer["changed"] and not fewer["failed"], fewer.get("msg")
    assert fdb(sandbox) == sorted(expected_fdb(PEERS[:1]) + [("02:aa:00:00:00:01", "192.168.30.9", True)])
    assert neigh(sandbox) == sorted(expected_neigh(PEERS[:1]) + [("10.255.9.9", "02:aa:00:00:00:01", True)])
    assert [p["address"] for p in fewer["diff"]["after"]["tunnels"][0]["peers"]] == ["10.255.0.9"]
    # a peer's node address moved: its one forwarding entry follows
    moved = [dict(PEERS[0], remote="192.168.20.33")]
    assert apply(sandbox, [tunnel(peers=moved)])["changed"]
    assert ("02:63:0a:ff:00:09", "192.168.20.33", True) in fdb(sandbox)
    assert ("02:63:0a:ff:00:09", "192.168.20.3", True) not in fdb(sandbox)
    # the last peer gone: the device stays while it is listed, purge removes it when it is not
    assert apply(sandbox, [tunnel(peers=[])])["changed"]
    assert fdb(sandbox) == [("02:aa:00:00:00:01", "192.168.30.9", True)]
    gone = apply(sandbox, [])
    assert gone["removed"] == [DEV] and link(sandbox) is None
    assert sandbox.run(["test", "-e", "/var/lib/crossnet/vxlan.json"]).returncode == 1


def test_foreign_objects_are_refused_unless_adopted(sandbox):
    uplink(sandbox)
    sandbox.run(["ip", "link", "add", DEV, "type", "vxlan", "id", "4096", "local", "192.168.77.2", "dstport",
                 "4789"], check=True)
    refused = apply(sandbox, [tunnel()])
    assert refused["failed"] and "was not created by crossnet" in refused["msg"] and DEV in refused["msg"]
    assert "ifalias" not in link(sandbox)  # refused before any change
    taken = apply(sandbox, [tunnel()], adopt=True)
    assert taken["changed"] and not taken["failed"], taken.get("msg")
    assert link(sandbox)["ifalias"] == "crossnet:vxlan"
    assert not apply(sandbox, [tunnel()])["changed"]
    assert not apply(sandbox, [tunnel()], state="absent")["failed"] and link(sandbox) is None

    # a foreign device holding our VNI and port under another name
    sandbox.run(["ip", "link", "add", "theirs", "type", "vxlan", "id", "4096", "local", "192.168.77.2", "dstport",
                 "4789"], check=True)
    clash = apply(sandbox, [tunnel()])
    assert clash["failed"] and "theirs" in clash["msg"] and "VNI 4096" in clash["msg"]
    assert link(sandbox, "theirs") is not None and link(sandbox) is None

    # a foreign forwarding entry where ours must go
    sandbox.run(["ip", "link", "del", "theirs"], check=True)
    assert not apply(sandbox, [tunnel(peers=[])])["failed"]
    sandbox.run(["bridge", "fdb", "append", PEERS[0]["mac"], "dev", DEV, "dst", "192.168.30.1", "self",
                 "permanent"], check=True)
    entry = apply(sandbox, [tunnel()])
    assert entry["failed"] and PEERS[0]["mac"] in entry["msg"] and "adopt" in entry["msg"]
    assert fdb(sandbox) == [(PEERS[0]["mac"], "192.168.30.1", True)]
    adopted = apply(sandbox, [tunnel()], adopt=True)
    assert not adopted["failed"] and fdb(sandbox) == expected_fdb()


def test_bad_input_is_refused_before_any_change(sandbox):
    uplink(sandbox)
    for bad, words in (({"vni": 0}, "vni 0"), ({"vni": 1 << 24}, "vni 16777216"), ({"port": 70000}, "port 70000"),
                       ({"local": "192.168.77.300"}, "192.168.77.300"), ({"mac": "03:00:00:00:00:01"}, "unicast"),
                       ({"name": "a-name-far-too-long"}, "name"),
                       ({"peers": [PEERS[0], dict(PEERS[1], mac=PEERS[0]["mac"])]}, "listed more than once"),
                       ({"local": "192.168.99.1"}, "not an address of this host")):
        result = apply(sandbox, [tunnel(**bad)])
        assert result["failed"] and words in result["msg"], (bad, result.get("msg"))
    assert link(sandbox) is None


def neigh6(box, name=DEV):
    entries = json.loads(box.run(["ip", "-j", "-6", "neigh", "show", "dev", name]).stdout or "[]")
    return sorted((e["dst"], e.get("lladdr"), "PERMANENT" in e.get("state", [])) for e in entries
                  if "PERMANENT" in e.get("state", []))


def test_a_peer_with_address6_gets_an_ipv6_neighbour_entry_too(sandbox):
    """IPv6 routes through the tunnel go via the peer device's link-local address: its entry is
    made, kept, repaired, removed with the peer, and one that is not ours is refused."""
    uplink(sandbox)
    peers = [dict(PEERS[0], address6="fe80::63:aff:feff:9"), PEERS[1]]
    done = apply(sandbox, [tunnel(peers)], diff=True)
    assert done["changed"] and not done["failed"], done.get("msg")
    assert neigh6(sandbox) == [("fe80::63:aff:feff:9", "02:63:0a:ff:00:09", True)]
    assert neigh(sandbox) == sorted((p["address"], p["mac"], True) for p in PEERS)
    assert "crossnet-vxlan fe80::63:aff:feff:9" in done["peers_added"]
    after = {peer["address"]: peer for peer in done["diff"]["after"]["tunnels"][0]["peers"]}
    assert after["10.255.0.9"]["address6"] == "fe80::63:aff:feff:9" and "address6" not in after["10.255.0.10"]
    again = apply(sandbox, [tunnel(peers)], diff=True)
    assert again["changed"] is False and again["diff"]["before"] == again["diff"]["after"], again["diff"]
    # drift: the IPv6 entry deleted
    sandbox.run(["ip", "-6", "neigh", "del", "fe80::63:aff:feff:9", "dev", DEV], check=True)
    assert apply(sandbox, [tunnel(peers)], check=True)["changed"] is True
    assert apply(sandbox, [tunnel(peers)])["changed"] is True
    assert neigh6(sandbox) == [("fe80::63:aff:feff:9", "02:63:0a:ff:00:09", True)]
    # the peer no longer routes IPv6: its IPv6 entry goes, its IPv4 one stays
    assert apply(sandbox, [tunnel()])["changed"] is True
    assert neigh6(sandbox) == [] and neigh(sandbox) == sorted((p["address"], p["mac"], True) for p in PEERS)
    # an entry that is not ours where ours must go
    sandbox.run(["ip", "-6", "neigh", "replace", "fe80::63:aff:feff:9", "lladdr", "02:00:00:00:00:01", "dev", DEV,
                 "nud", "permanent"], check=True)
    refused = apply(sandbox, [tunnel(peers)])
    assert refused["failed"] and "neighbour entry fe80::63:aff:feff:9 was not made by crossnet" in refused["msg"]
    bad = apply(sandbox, [tunnel([dict(PEERS[0], address6="fd00::9")])])
    assert bad["failed"] and "is not link-local" in bad["msg"]
