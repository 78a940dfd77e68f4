# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Foreign objects with our name or destination: a route, an iptables chain, a namespace or a
link that the collection did not create.  The run must fail clearly, naming the object, and leave
it exactly as it was; only an explicit opt-in (``crossnet_adopt: true``) may take it over."""

from __future__ import annotations

import pytest

from harness import names

LAB_NAME = "xrforeign"
TOPOLOGY = "two_hosts.yml"

VETH1 = names.host_ifname("c1", "eth0")
FOREIGN = {
    # what the user made on host1                   how the failure names it    what must stay
    "route": ([["ip", "route", "add", "10.40.2.1/32", "via", "192.168.9.4", "dev", "eth0"]],
              ["10.40.2.1"], ["ip", "route", "show", "10.40.2.1/32"]),
    "namespace": ([["ip", "netns", "add", "c1"]],
                  ["c1"], ["ip", "-n", "c1", "-o", "link"]),
    "link": ([["ip", "link", "add", VETH1, "type", "veth", "peer", "name", "xr-user-peer"]],
             [VETH1], ["ip", "-d", "-o", "link", "show", VETH1]),
    "nat-chain": ([["iptables", "-t", "nat", "-N", "CROSSNET-POSTROUTING"],
                   ["iptables", "-t", "nat", "-A", "CROSSNET-POSTROUTING", "-s", "10.99.0.0/24", "-j", "ACCEPT"]],
                  ["CROSSNET-POSTROUTING"], ["iptables", "-t", "nat", "-S", "CROSSNET-POSTROUTING"]),
}


def _with_foreign(lab, kind):
    commands, dummy, show = FOREIGN[kind]
    for argv in commands:
        lab.run("host1", argv, check=True)
    return lab.run("host1", show, check=True).stdout


@pytest.mark.parametrize("kind", list(FOREIGN))
def test_foreign_object_is_not_overwritten(fresh_lab, kind):
    lab = fresh_lab
    dummy, named, show = FOREIGN[kind]
    before = _with_foreign(lab, kind)
    run = lab.playbook()
    assert run.rc != 0, "the run went over a foreign %s: %s" % (kind, run.describe())
    failed = [e for e in run.events if e["host"] == "host1" and e["status"] == "failed"]
    assert failed, run.describe()
    message = " ".join(str(e["msg"]) for e in failed)
    for text in named:
        assert text in message, "the failure does not name %r: %s" % (text, message)
    assert lab.run("host1", show, check=True).stdout == before, "the foreign %s was changed" % kind


def test_opt_in_takes_a_foreign_route_over(fresh_lab):
    lab = fresh_lab
    _with_foreign(lab, "route")
    run = lab.playbook(extra_vars={"crossnet_adopt": True})
    assert run.rc == 0, run.describe()
    route = lab.run("host1", ["ip", "route", "show", "10.40.2.1/32"], check=True).stdout
    assert "proto crossnet" in route, route


@pytest.mark.teardown
def test_teardown_keeps_foreign_objects(fresh_lab):
    """Objects like ours but not ours, plus plain user objects, survive converge and teardown."""
    lab = fresh_lab
    for argv in (["ip", "netns", "add", "xr-user-ns"],
                 ["ip", "link", "add", "xr-user0", "type", "veth", "peer", "name", "xr-user1"],
                 ["ip", "link", "set", "xr-user0", "alias", "crossnet-lookalike"],
                 ["ip", "route", "add", "10.99.0.0/24", "via", "192.168.9.4", "dev", "eth0"],
                 ["iptables", "-t", "nat", "-A", "POSTROUTING", "-s", "10.99.0.0/24", "-j", "MASQUERADE"],
                 ["iptables", "-A", "FORWARD", "-s", "10.99.0.0/24", "-j", "ACCEPT"],
                 ["iptables", "-P", "FORWARD", "DROP"],
                 ["sysctl", "-qw", "net.ipv4.conf.eth0.proxy_arp=1"]):
        lab.run("host1", argv, check=True)
    with_user_objects = lab.snapshots()
    try:
        lab.converge()
        run = lab.teardown()
        assert run.rc == 0, run.describe()
        lab.assert_unchanged_since(with_user_objects, "converge and teardown with user objects present")
    finally:
        for argv in (["ip", "netns", "del", "xr-user-ns"], ["ip", "link", "del", "xr-user0"],
                     ["ip", "route", "del", "10.99.0.0/24"],
                     ["iptables", "-t", "nat", "-D", "POSTROUTING", "-s", "10.99.0.0/24", "-j", "MASQUERADE"],
                     ["iptables", "-D", "FORWARD", "-s", "10.99.0.0/24", "-j", "ACCEPT"],
                     ["iptables", "-P", "FORWARD", "ACCEPT"],
                     ["sysctl", "-qw", "net.ipv4.conf.eth0.proxy_arp=0"]):
            lab.run("host1", argv)
