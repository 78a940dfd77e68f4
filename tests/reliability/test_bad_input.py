# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input: each run fails before any host changes, and its message names the host, the
container and the offending value.  "Before any change" is checked with a snapshot of every host
(iptables nft+legacy, routes, links, namespaces, sysctls, files) taken before and after."""

from __future__ import annotations

import os
import re

import pytest

from harness import rejected

LAB_NAME = "xrbad"
TOPOLOGY = "two_hosts.yml"

C1 = {"name": "c1", "addresses": ["10.40.1.1"]}
C2 = {"name": "c2", "addresses": ["10.40.2.1"]}
PWNED = "/tmp/xr-pwned"


def host1_containers(*containers):
    return {"host1": {"crossnet_containers": list(containers)}}


def test_duplicate_address_across_hosts(fresh_lab):
    rejected(fresh_lab, {"host2": {"crossnet_containers": [{"name": "c2", "addresses": ["10.40.1.1"]}]}},
             ["host2", "c2", "10.40.1.1", "host1"])


MALFORMED = ["10.40.1.300", "10.40.1", "not-an-address", "10.40.1.1/24", ""]


def test_malformed_address(fresh_lab):
    containers = [{"name": "m%d" % index, "addresses": [address]} for index, address in enumerate(MALFORMED)]
    run = rejected(fresh_lab, host1_containers(*containers), ["host1"])
    for index, address in enumerate(MALFORMED):
        assert "'m%d': address %r" % (index, address) in run.output, run.describe()


def test_address_is_a_node_address(fresh_lab):
    run = rejected(fresh_lab, host1_containers({"name": "c1", "addresses": ["192.168.9.4"]},
                                               {"name": "c3", "addresses": ["192.168.9.3"]}),
                   ["host1", "192.168.9.4", "192.168.9.3"])
    for container, owner in (("c1", "host2"), ("c3", "host1")):
        assert "container %r" % container in run.output and owner in run.output, run.describe()


def test_address_is_the_gateway(fresh_lab):
    rejected(fresh_lab, host1_containers({"name": "c1", "addresses": ["169.254.1.1"]}),
             ["host1", "c1", "169.254.1.1", "gateway"])


def test_address_outside_its_hosts_block(fresh_lab):
    overrides = {"host1": {"crossnet_container_cidr": "10.40.1.0/24",
                           "crossnet_containers": [{"name": "c1", "addresses": ["10.40.1.1", "10.40.9.9"]}]}}
    rejected(fresh_lab, overrides, ["host1", "c1", "10.40.9.9", "10.40.1.0/24"])


def test_overlapping_blocks(fresh_lab):
    overrides = {"host1": {"crossnet_container_cidr": "10.40.0.0/16"},
                 "host2": {"crossnet_container_cidr": "10.40.2.0/24"}}
    rejected(fresh_lab, overrides, ["host1", "host2", "10.40.0.0/16", "10.40.2.0/24", "overlaps"])


def test_duplicate_container_names_on_a_host(fresh_lab):
    rejected(fresh_lab, host1_containers(C1, {"name": "c1", "addresses": ["10.40.1.2"]}),
             ["host1", "'c1'", "twice"])


def test_duplicate_host_ifname_on_a_host(fresh_lab):
    rejected(fresh_lab, host1_containers(dict(C1, host_ifname="vc1"),
                                         {"name": "c3", "addresses": ["10.40.1.3"], "host_ifname": "vc1"}),
             ["host1", "c1", "c3", "vc1"])


HOSTILE = [
    {"name": "$(touch %s)" % PWNED, "addresses": ["10.40.1.1"]},
    {"name": "c1;touch %s" % PWNED, "addresses": ["10.40.1.1"]},
    {"name": "`touch %s`" % PWNED, "addresses": ["10.40.1.1"]},
    {"name": "c1", "addresses": ["10.40.1.1"], "ifname": "e$(touch %s)" % PWNED},
    {"name": "c1", "addresses": ["10.40.1.1"], "ifname": "e0|touch"},
    {"name": "c1", "addresses": ["10.40.1.1"], "host_ifname": "v;touch %s" % PWNED},
    {"name": "c1", "addresses": ["10.40.1.1 ;touch %s" % PWNED]},
]


@pytest.mark.security
def test_shell_metacharacters_are_rejected_and_never_run(fresh_lab):
    if os.path.exists(PWNED):
        os.unlink(PWNED)
    run = rejected(fresh_lab, host1_containers(*HOSTILE), ["host1"])
    for container in HOSTILE:
        hostile = [value for key, value in container.items() if key != "addresses" and value != "c1"]
        for value in hostile or container["addresses"]:
            assert value in run.output, "the failure does not name %r: %s" % (value, run.describe())
    assert not os.path.exists(PWNED), "a hostile name was executed on the controller"
    for host in fresh_lab.hosts:
        assert fresh_lab.run(host, ["test", "-e", PWNED]).returncode == 1, \
            "a hostile name was executed on %s" % host


def test_interface_name_over_15_characters(fresh_lab):
    run = rejected(fresh_lab, host1_containers(dict(C1, ifname="eth0-much-too-long"),
                                               {"name": "c3", "addresses": ["10.40.1.3"],
                                                "host_ifname": "host-side-too-long"}),
                   ["host1", "eth0-much-too-long", "host-side-too-long", "15"])
    assert "'c1'" in run.output and "'c3'" in run.output, run.describe()


def test_containers_not_a_list(fresh_lab):
    run = rejected(fresh_lab, {"host1": {"crossnet_containers": "c1"},
                               "host2": {"crossnet_containers": {"name": "c2", "addresses": ["10.40.2.1"]}}},
                   ["crossnet_containers", "list"])
    for host in ("host1", "host2"):  # the planner's "host X: ..." or Ansible's "fatal: [X]: ..."
        assert re.search(r"(host %s: |\[%s\]: FAILED!.*)crossnet_containers" % (host, host), run.output), \
            run.describe()


def test_container_without_name(fresh_lab):
    rejected(fresh_lab, host1_containers({"addresses": ["10.40.1.1"]}), ["host1", "'name'"])


def test_container_without_addresses(fresh_lab):
    run = rejected(fresh_lab, host1_containers({"name": "c1"}, {"name": "c3", "addresses": []},
                                               {"name": "c4", "addresses": "10.40.1.4"}),
                   ["host1", "addresses"])
    for index, name in enumerate(("c1", "c3", "c4")):
        assert "'%s'" % name in run.output or "crossnet_containers[%d]" % index in run.output, \
            "container %s is not named: %s" % (name, run.describe())


def test_unknown_uplink(fresh_lab):
    rejected(fresh_lab, {"host1": {"crossnet_uplink": "eth9"}}, ["host1", "eth9"])


def test_unknown_uplink_with_node_address_given(fresh_lab):
    """The planner cannot notice this one (the address is given): the preflight on host1 must,
    and stop host2 too."""
    run = rejected(fresh_lab, {"host1": {"crossnet_uplink": "eth9", "crossnet_node_address": "192.168.9.3"}},
                   ["host1", "eth9"])
    assert "does not exist" in run.output, run.describe()


def test_node_address_not_on_uplink(fresh_lab):
    rejected(fresh_lab, {"host1": {"crossnet_node_address": "192.168.9.30"}}, ["host1", "192.168.9.30"])


def test_node_address_not_on_link_from_a_peer(fresh_lab):
    """host2's node address is on its uplink but in a subnet host1 has no link to: host1's
    preflight must fail, and host2 (whose own preflight passes) must not be changed either."""
    fresh_lab.run("host2", ["ip", "addr", "add", "10.77.0.4/24", "dev", "eth0"], check=True)
    try:
        run = rejected(fresh_lab, {"host2": {"crossnet_node_address": "10.77.0.4"}},
                       ["host1", "host2", "10.77.0.4"])
        assert "on-link" in run.output or "not reachable" in run.output, run.describe()
    finally:
        fresh_lab.run("host2", ["ip", "addr", "del", "10.77.0.4/24", "dev", "eth0"], check=True)


def test_ipv6_where_it_does_not_belong(fresh_lab):
    """An IPv6 address given as the (IPv4) node address, an IPv6 container address inside another
    host's IPv6 block, IPv6 containers on hosts whose uplinks have no IPv6 address: all named."""
    run = rejected(fresh_lab, {"host1": {"crossnet_containers": [{"name": "c1", "addresses": ["fd00:40::1"]}],
                                         "crossnet_node_address": "fd00:9::3"},
                               "host2": {"crossnet_container_cidr": "fd00:40::/64"}},
                   ["set it as crossnet_node_address6", "fd00:9::3",
                    "crossnet_container_cidr fd00:40::/64 holds address fd00:40::1 of host host1"])
    assert "host host2: peer host1 has IPv6 containers but host host2 has no IPv6 node address" in run.output, \
        run.describe()
