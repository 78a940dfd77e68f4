# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VXLAN overlay in cross_subnet mode (topologies/two_racks.yml: host1 and host2 on rack1,
host3 on rack2, a router between): what crosses the wire (packet captures), drift of the
overlay's objects, foreign objects, bad input, forged sources, and teardown to the exact state
before."""

from __future__ import annotations

import json

import pytest

from harness import wait_for

LAB_NAME = "xroverlay"
TOPOLOGY = "two_racks.yml"
DEV = "crossnet-vxlan"
C1, C2, C3 = "10.40.1.1", "10.40.2.1", "10.40.3.1"


def _fdb(lab, host):
    out = lab.run(host, ["bridge", "-j", "fdb", "show", "dev", DEV], check=True).stdout
    return [entry for entry in json.loads(out or "[]") if entry.get("dst")]


def _neighbours(lab, host):
    out = lab.run(host, ["ip", "-j", "-4", "neigh", "show", "dev", DEV], check=True).stdout
    return json.loads(out or "[]")


# -- what crosses the wire --------------------------------------------------------------------
def test_same_subnet_is_routed_and_cross_subnet_is_encapsulated(converged_lab):
    lab = converged_lab
    same, cross = ("host1", "c1", C1, C2), ("host1", "c1", C1, C3)
    # rack1 as host2 sees it: c1's packet to c2 arrives as it left c1, not encapsulated
    on_rack1 = lab.seen_by("host2", None, [same], "xr-ovl-rack1", ifname="eth0")
    assert on_rack1 == [C1], "host2's uplink saw %r for c1 -> c2" % on_rack1
    # rack2 as the router sees it: c1's packet to c3 crosses inside VXLAN (UDP 4789), inner
    # source c1's own address; the packet to c2 never reaches rack2
    on_rack2 = lab.seen_by("router", None, [same, cross], "xr-ovl-rack2", ifname="eth1")
    assert on_rack2 == ["vxlan:" + C1], "the router's rack2 link saw %r" % on_rack2
    in_c3 = lab.seen_by("host3", "c3", [cross], "xr-ovl-c3")
    assert in_c3 == [C1], "c3 saw %r (the source must be c1's own address)" % in_c3


def test_overlay_state_is_where_the_plan_says(converged_lab):
    lab = converged_lab
    for host, overlay_peers in (("host1", 1), ("host2", 1), ("host3", 2)):
        link = json.loads(lab.run(host, ["ip", "-d", "-j", "link", "show", DEV], check=True).stdout)[0]
        data = link["linkinfo"]["info_data"]
        assert (data["id"], data["port"], data.get("learning"), link["mtu"]) == (4096, 4789, False, 1450), link
        assert len(_fdb(lab, host)) == overlay_peers and len(_neighbours(lab, host)) == overlay_peers
    routes = lab.run("host1", ["ip", "-4", "route", "show", "proto", "157"], check=True).stdout
    assert "%s via 192.168.10.12 dev eth0" % C2 in routes, routes
    assert "%s via 10.41.0." % C3 in routes and "dev %s onlink" % DEV in routes, routes


@pytest.mark.security
def test_a_container_cannot_send_into_the_overlay_with_a_forged_source(converged_lab):
    lab = converged_lab
    forged = ["10.40.3.99", C2]  # an address of host3's network nobody has; host2's container
    for address in forged:
        lab.run("host1", ["ip", "-n", "c1", "addr", "add", address + "/32", "dev", "eth0"], check=True)
    try:
        sends = [("host1", "c1", source, C3) for source in [C1] + forged]
        on_wire = lab.seen_by("router", None, sends, "xr-ovl-forged", ifname="eth1")
    finally:
        for address in forged:
            lab.run("host1", ["ip", "-n", "c1", "addr", "del", address + "/32", "dev", "eth0"])
    assert on_wire == ["vxlan:" + C1], "host1 sent into the overlay: %r" % on_wire


# -- drift --------------------------------------------------------------------------------------
def _delete_first_fdb(lab):
    entry = _fdb(lab, "host1")[0]
    return [["bridge", "fdb", "del", entry["mac"], "dev", DEV, "dst", entry["dst"], "self"]]


def _delete_first_neighbour(lab):
    return [["ip", "neigh", "del", _neighbours(lab, "host1")[0]["dst"], "dev", DEV]]


DRIFT = {
    "vxlan-device-deleted": ("host3", lambda lab: [["ip", "link", "del", DEV]], "vxlan_tunnel"),
    "fdb-entry-deleted": ("host1", _delete_first_fdb, "vxlan_tunnel"),
    "neighbour-deleted": ("host1", _delete_first_neighbour, "vxlan_tunnel"),
    "route-through-tunnel-deleted": ("host1", lambda lab: [["ip", "route", "del", C3 + "/32"]], "host_route"),
    "vxlan-mtu-changed": ("host2", lambda lab: [["ip", "link", "set", DEV, "mtu", "1300"]], "vxlan_tunnel"),
}


@pytest.mark.parametrize("case", list(DRIFT))
def test_one_rerun_repairs_overlay_drift(converged_lab, case):
    lab = converged_lab
    host, commands, module = DRIFT[case]
    for argv in commands(lab):
        lab.run(host, argv, check=True)
    assert host in lab.normalized_diff(lab.converged), "the drift did not show in the snapshot of %s" % host
    run = lab.playbook()
    assert run.rc == 0, "the repair run failed: %s" % run.describe()
    assert module in run.changed_steps(host), "%s did not report changed on %s: %s" % (
        module, host, run.describe())
    left = lab.normalized_diff(lab.converged)
    assert not left, "not repaired:\n%s" % "\n".join("=== %s\n%s" % item for item in left.items())
    assert lab.seen_by("host3", "c3", [("host1", "c1", C1, C3)], "xr-ovl-after-" + case) == [C1]


@pytest.mark.teardown
def test_teardown_after_overlay_drift_restores_pristine(converged_lab):
    run = converged_lab.teardown()
    assert run.rc == 0, run.describe()
    converged_lab.assert_unchanged_since(converged_lab.pristine, "converge, drift, repair and teardown")


# -- foreign objects ----------------------------------------------------------------------------
FOREIGN = {
    "device-with-our-name": ["ip", "link", "add", DEV, "type", "vxlan", "id", "4096", "dstport", "4789",
                             "local", "192.168.10.11"],
    "device-with-our-vni": ["ip", "link", "add", "theirs", "type", "vxlan", "id", "4096", "dstport", "4789",
                            "local", "192.168.10.11"],
}


@pytest.mark.parametrize("kind", list(FOREIGN))
def test_foreign_vxlan_device_is_refused(fresh_lab, kind):
    lab = fresh_lab
    lab.run("host1", FOREIGN[kind], check=True)
    name = FOREIGN[kind][3]
    try:
        before = lab.run("host1", ["ip", "-d", "-o", "link", "show", name], check=True).stdout
        run = lab.playbook()
        assert run.rc != 0, "the run went over a foreign VXLAN device: %s" % run.describe()
        message = " ".join(str(e["msg"]) for e in run.events if e["host"] == "host1" and e["status"] == "failed")
        assert name in message and "adopt" in message, run.describe()
        assert lab.run("host1", ["ip", "-d", "-o", "link", "show", name], check=True).stdout == before
    finally:
        lab.run("host1", ["ip", "link", "del", name])  # the next case's converge would stop at it


def test_foreign_forwarding_entry_on_our_device_is_left_alone(converged_lab):
    lab = converged_lab
    lab.run("host1", ["bridge", "fdb", "append", "02:aa:00:00:00:01", "dev", DEV, "dst", "192.168.20.99", "self",
                      "permanent"], check=True)
    try:
        run = lab.playbook()
        assert run.rc == 0 and "vxlan_tunnel" not in run.changed_steps("host1"), run.describe()
        assert "02:aa:00:00:00:01" in [entry["mac"] for entry in _fdb(lab, "host1")]
    finally:
        lab.run("host1", ["bridge", "fdb", "del", "02:aa:00:00:00:01", "dev", DEV, "dst", "192.168.20.99", "self"])


# -- bad input ----------------------------------------------------------------------------------
BAD = {
    "unknown-encapsulation": ({"host3": {"crossnet_encapsulation": "ipip"}}, ["host3", "ipip"]),
    "vni-out-of-range": ({"host1": {"crossnet_vxlan_vni": 16777216}}, ["host1", "16777216"]),
    "port-out-of-range": ({"host2": {"crossnet_vxlan_port": 70000}}, ["host2", "70000"]),
    "vtep-is-a-node-address": ({"host1": {"crossnet_vtep_address": "192.168.20.13"}}, ["host1", "192.168.20.13"]),
    "vtep-is-a-container-address": ({"host3": {"crossnet_vtep_address": C2}}, ["host3", C2]),
    "vteps-overlap": ({"host1": {"crossnet_vtep_address": "10.41.0.200"},
                       "host3": {"crossnet_vtep_address": "10.41.0.200"}}, ["host1", "host3", "10.41.0.200"]),
    "mtu-above-the-overlay": ({"host1": {"crossnet_containers": [{"name": "c1", "addresses": [C1], "mtu": 1500}]}},
                              ["host1", "c1", "1500", "1450"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_overlay_input_is_refused_before_any_change(fresh_lab, case):
    lab = fresh_lab
    overrides, expect = BAD[case]
    before = lab.snapshots()
    run = lab.playbook(overrides=overrides)
    assert run.rc != 0, "the run succeeded on bad input: %s" % run.describe()
    assert not run.changed_tasks(), "tasks reported changed: %s" % run.changed_tasks()
    missing = [text for text in expect if text not in run.output]
    assert not missing, "the failure does not name %s: %s" % (missing, run.describe())
    lab.assert_unchanged_since(before, "a run on bad input")


def test_teardown_removes_the_overlay_and_nothing_else(fresh_lab):
    lab = fresh_lab
    lab.converge()
    assert wait_for(lambda: len(_fdb(lab, "host3")) == 2)
    run = lab.teardown()
    assert run.rc == 0, run.describe()
    lab.assert_unchanged_since(lab.pristine, "converge and teardown")
