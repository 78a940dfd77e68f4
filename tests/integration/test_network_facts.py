# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""crossnet.routed.network_facts on a fake host, under both pyroute2s."""

from __future__ import annotations


def _up(box, *commands):
    for argv in commands:
        box.run(argv, check=True)


def test_uplink_entry_in_setup_shape(sandbox):
    _up(sandbox,
        ["ip", "link", "add", "up-0", "mtu", "1400", "type", "veth", "peer", "name", "up0p"],
        ["ip", "addr", "add", "192.168.9.3/24", "dev", "up-0"],
        ["ip", "addr", "add", "192.168.19.3/24", "dev", "up-0"],
        ["ip", "link", "set", "up-0", "up"])
    result = sandbox.run_module("network_facts", {"uplink": "up-0"}, check=True)
    assert result["failed"] is False and result["changed"] is False, result.get("msg")
    facts = result["ansible_facts"]
    assert {"lo", "up-0", "up0p"} <= set(facts["interfaces"])
    assert facts["default_ipv4"] == {}
    entry = facts["up_0"]
    assert entry["device"] == "up-0" and entry["mtu"] == 1400 and entry["active"] is True
    assert entry["ipv4"] == {"address": "192.168.9.3", "netmask": "255.255.255.0", "network": "192.168.9.0",
                             "prefix": "24", "broadcast": "192.168.9.255", "label": "up-0"}
    assert [e["address"] for e in entry["ipv4_secondaries"]] == ["192.168.19.3"]


def test_default_route_picks_the_uplink(sandbox):
    _up(sandbox,
        ["ip", "link", "add", "wan0", "type", "veth", "peer", "name", "wan0p"],
        ["ip", "link", "add", "alt0", "type", "veth", "peer", "name", "alt0p"],
        ["ip", "addr", "add", "10.7.0.2/24", "dev", "wan0"],
        ["ip", "addr", "add", "10.8.0.2/24", "dev", "alt0"],
        ["ip", "link", "set", "wan0", "up"], ["ip", "link", "set", "alt0", "up"],
        ["ip", "route", "add", "default", "via", "10.8.0.1", "dev", "alt0", "metric", "200"],
        ["ip", "route", "add", "default", "via", "10.7.0.1", "dev", "wan0", "metric", "100"])
    facts = sandbox.run_module("network_facts", {})["ansible_facts"]
    assert facts["default_ipv4"]["interface"] == "wan0"
    assert facts["default_ipv4"]["gateway"] == "10.7.0.1"
    assert facts["default_ipv4"]["address"] == "10.7.0.2"
    assert facts["wan0"]["ipv4"]["address"] == "10.7.0.2" and "alt0" not in facts
