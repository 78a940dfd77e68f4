# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generated fleets (lab.py fleet): valid topologies and inventories at any size, racks joined
into one L2 network, holders that cost a sleep each, and nothing left after `down`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO, lab_name
from labkit import core, fleet, topology

sys.path.insert(0, os.path.join(REPO, "tests", "output", "collections"))
CLI = os.path.join(REPO, "lab", "lab.py")


def test_a_64_host_fleet_on_4_racks_is_a_valid_topology_and_inventory():
    doc = fleet.topology(64, 10, racks=4)
    topo = topology.parse(doc)
    assert len(topo.hosts) == 64 and [n.name for n in topo.outside] == ["outside"]
    assert topo.segments == ["rack1", "rack2", "rack3", "rack4"]
    assert topo.trunks == [["rack1", "rack2"], ["rack2", "rack3"], ["rack3", "rack4"]]
    assert {node.links[0].segment for node in topo.hosts[:4]} == set(topo.segments)
    # The collection's planner takes the generated inventory as it is.
    from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import network_plan

    variables = {}
    for node in topo.hosts:
        node_vars = dict(node.vars)
        variables[node.name] = dict(node_vars, ansible_facts={"interfaces": ["eth0"], "eth0": {
            "device": "eth0", "mtu": 1500, "ipv4": {"address": node.address, "netmask": "255.255.0.0"}}})
        assert node_vars["crossnet_node_address"] == node.address
    plan = network_plan(variables)
    assert len(plan) == 64
    assert all(len(part["namespaces"]) == 10 for part in plan.values())
    # Each host routes to the 63 others' containers.
    gateways = {route["gateway"] for route in plan["host1"]["routes"] if route.get("gateway")}
    assert len(gateways) == 63


def test_the_largest_fleet_has_distinct_addresses():
    doc = fleet.topology(fleet.MAX_HOSTS, 1)
    topology.parse(doc)  # refuses an address used twice
    containers = [spec["vars"]["crossnet_containers"][0]["addresses"][0] for spec in doc["hosts"].values()]
    assert len(set(containers)) == fleet.MAX_HOSTS


@pytest.mark.parametrize("hosts,containers,racks", [(0, 1, 1), (1001, 1, 1), (2, 251, 1), (2, 1, 3)])
def test_out_of_range_fleets_are_refused(hosts, containers, racks):
    with pytest.raises(fleet.FleetError):
        fleet.topology(hosts, containers, racks=racks)


def test_trunks_that_close_a_loop_or_name_no_segment_are_refused():
    doc = fleet.topology(3, 0, racks=3)
    doc["trunks"].append(["rack3", "rack1"])
    with pytest.raises(topology.TopologyError, match="closes a loop"):
        topology.parse(doc)
    doc["trunks"] = [["rack1", "rack9"]]
    with pytest.raises(topology.TopologyError, match="known segments"):
        topology.parse(doc)


def test_a_fleet_on_two_racks_is_one_l2_network_and_leaves_nothing(tmp_path):
    lab = core.Lab(lab_name("fl"))
    saved = tmp_path / "fleet.yml"
    try:
        proc = subprocess.run([sys.executable, CLI, "fleet", "--hosts", "4", "--containers", "1", "--racks", "2",
                               "--up", "--name", lab.name, "-o", str(saved)],
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == lab.inventory
        assert saved.read_text(encoding="utf-8").startswith("# lab.py fleet --hosts 4")
        assert lab.healthy()
        # host1 and host3 are on rack1, host2 and host4 on rack2: across the trunk and within a rack.
        for target in ("2", "3", "4"):
            ping = lab.run("host1", [core.PYTHON, core.WHOAMI, "ping", fleet.node_address(int(target))], timeout=10)
            assert ping.returncode == 0, (target, ping.stderr)
        holders = [lab.holder_pid("host%d" % h) for h in range(1, 5)]
        for pid in holders:
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                assert handle.read().split(b"\0")[0] == core.HELD_NAME.encode()
        assert set(holders) <= lab.processes()
    finally:
        lab.down()
    assert not [ns for ns in core.list_netns() if ns.startswith(lab.prefix)]
    assert not lab.processes()
    assert not os.path.exists(lab.dir)
