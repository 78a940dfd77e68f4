# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner and the veth plan with ``netns_path``: a container in a namespace a runtime made
(no root, no network)."""

from __future__ import annotations

import copy

import pytest

from test_plan import facts, seed  # also makes the collection importable

# pylint: disable=wrong-import-position
from ansible_collections.crossnet.routed.plugins.module_utils import names, veth  # noqa: E402
from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import (  # noqa: E402
    CONTAINER_KEYS,
    PlanError,
    host_network_args,
    network_plan,
)

RUNTIME = "/proc/4242/ns/net"


def with_containers(*containers):
    hosts = seed()
    hosts["host1"]["crossnet_containers"] = list(containers)
    return hosts


def errors_of(hosts):
    with pytest.raises(PlanError) as caught:
        network_plan(hosts)
    return caught.value.errors


# ---------------------------------------------------------------- the plan's shape
def test_runtime_container_is_wired_but_not_a_namespace_of_ours():
    hosts = with_containers({"name": "container0", "addresses": ["11.12.11.121"]},
                            {"name": "app1", "addresses": ["11.12.11.122"], "netns_path": RUNTIME})
    part = network_plan(hosts)["host1"]
    assert part["namespaces"] == ["container0"]
    runtime = part["veth_pairs"][1]
    host_ifname = names.host_ifname("app1", "eth0")  # the container's name stays its identity
    assert runtime == {"netns": "app1", "netns_path": RUNTIME, "host_ifname": host_ifname, "peer_ifname": "eth0",
                       "addresses": ["11.12.11.122/32"], "gateway": "169.254.1.1", "gateway6": None, "mtu": 1500}
    assert "netns_path" not in part["veth_pairs"][0]
    assert {"dest": "11.12.11.122/32", "dev": host_ifname, "scope": "link"} in part["routes"]
    assert host_ifname in part["proxy_arp_interfaces"]
    assert "11.12.11.122/32" in part["forwarding"]["container_networks"]
    assert part["masquerade"]["sources"] == ["11.12.11.121/32", "11.12.11.122/32"]
    # the peer routes to this host's containers include the runtime's one
    assert {"dest": "11.12.11.122/32", "gateway": "192.168.9.3", "dev": "eth0"} in network_plan(hosts)["host2"]["routes"]
    args = host_network_args(part)
    assert args["namespaces"] == ["container0"] and args["veth_pairs"][1]["netns_path"] == RUNTIME


def test_only_runtime_containers_give_no_namespaces():
    hosts = with_containers({"name": "app1", "addresses": ["11.12.11.122"], "netns_path": "/run/netns/cni-1234",
                             "ifname": "eth1", "host_ifname": "vapp1", "mtu": 1400})
    part = network_plan(hosts)["host1"]
    assert part["namespaces"] == []
    assert part["veth_pairs"] == [{"netns": "app1", "netns_path": "/run/netns/cni-1234", "host_ifname": "vapp1",
                                   "peer_ifname": "eth1", "addresses": ["11.12.11.122/32"],
                                   "gateway": "169.254.1.1", "gateway6": None, "mtu": 1400}]
    assert part["proxy_arp_interfaces"] == ["vapp1"]


def test_netns_path_is_a_known_key():
    assert "netns_path" in CONTAINER_KEYS
    hosts = with_containers({"name": "app1", "addresses": ["11.12.11.122"], "netns_pth": RUNTIME})
    assert any("unknown key 'netns_pth'" in e and "netns_path" in e for e in errors_of(hosts))


# ---------------------------------------------------------------- refused
@pytest.mark.parametrize("path, fragment", [
    ("proc/4242/ns/net", "must be an absolute path"),
    ("/proc/4242/../1/ns/net", "must not contain '..'"),
    ("/proc//4242/ns/net", "is not normalised (write /proc/4242/ns/net)"),
    ("/proc/4242/ns/net/", "is not normalised"),
    ("/proc/./4242/ns/net", "is not normalised"),
    ("//proc/4242/ns/net", "is not normalised"),
    ("/proc/4242/ns/net\n", "NUL or line break"),
    ("/run/netns/a\0b", "NUL or line break"),
    ("", "non-empty string"),
    (42, "non-empty string"),
    (["/proc/1/ns/net"], "non-empty string"),
    ("/", "is a directory"),
    ("/run/netns", "is a directory"),
    ("/proc/self/ns/net", "the host's own"),
    ("/proc/thread-self/ns/net", "the host's own"),
    ("/" + "a" * 4096, "longer than 4095 bytes"),
])
def test_bad_netns_path_is_refused_naming_host_container_and_value(path, fragment):
    hosts = with_containers({"name": "app1", "addresses": ["11.12.11.122"], "netns_path": path})
    errors = errors_of(hosts)
    matching = [e for e in errors if e.startswith("host host1: container 'app1': netns_path %r" % (path,))]
    assert matching and fragment in matching[0], errors


def test_every_problem_is_reported_with_a_bad_netns_path():
    hosts = with_containers({"name": "app1", "addresses": ["300.1.1.1"], "netns_path": "relative"})
    errors = errors_of(hosts)
    assert any("netns_path 'relative'" in e for e in errors) and any("'300.1.1.1'" in e for e in errors)


def test_two_containers_with_one_path_are_refused():
    hosts = with_containers({"name": "app1", "addresses": ["11.12.11.122"], "netns_path": RUNTIME},
                            {"name": "app2", "addresses": ["11.12.11.123"], "netns_path": RUNTIME})
    errors = errors_of(hosts)
    assert errors == ["host host1: containers 'app1' and 'app2' both use netns_path '/proc/4242/ns/net' "
                      "(one namespace, one container)"]


def test_the_same_path_on_two_hosts_is_fine():
    hosts = with_containers({"name": "app1", "addresses": ["11.12.11.122"], "netns_path": RUNTIME})
    hosts["host2"]["crossnet_containers"].append({"name": "app1", "addresses": ["12.11.12.4"], "netns_path": RUNTIME})
    plan = network_plan(hosts)
    assert plan["host1"]["veth_pairs"][0]["netns_path"] == plan["host2"]["veth_pairs"][1]["netns_path"] == RUNTIME


@pytest.mark.parametrize("path", ["/run/netns/container0", "/var/run/netns/container0", "/run/netns/app1"])
def test_a_namespace_the_collection_makes_is_not_a_runtime_one(path):
    """/run/netns/<a container's name> is the collection's own namespace for that container: the
    netns step would create or remove it."""
    hosts = with_containers({"name": "container0", "addresses": ["11.12.11.121"]},
                            {"name": "app1", "addresses": ["11.12.11.122"], "netns_path": path})
    errors = errors_of(hosts)
    assert len(errors) == 1 and errors[0].startswith("host host1: container 'app1': netns_path %r is where" % path)
    assert "container %r" % path.rsplit("/", 1)[1] in errors[0]


def test_other_runtime_paths_under_run_netns_are_fine():
    hosts = with_containers({"name": "container0", "addresses": ["11.12.11.121"]},
                            {"name": "app1", "addresses": ["11.12.11.122"], "netns_path": "/run/netns/container1"})
    assert network_plan(hosts)["host1"]["namespaces"] == ["container0"]


def test_the_planner_does_not_change_its_input():
    hosts = with_containers({"name": "app1", "addresses": ["11.12.11.122"], "netns_path": RUNTIME})
    hosts["host1"]["ansible_facts"] = facts("192.168.9.3")
    before = copy.deepcopy(hosts)
    network_plan(hosts)
    assert hosts == before


# ---------------------------------------------------------------- the module's side (pure)
def runtime_pair(**overrides):
    raw = dict(netns="app1", netns_path=RUNTIME, host_ifname="v1", addresses=["10.0.0.1"], gateway="169.254.1.1")
    raw.update(overrides)
    out, errors = veth.normalize_pairs([raw])
    assert not errors, errors
    return out


def test_veth_pair_checks_the_spelling_of_netns_path():
    dummy, errors = veth.normalize_pairs([{"netns": "app1", "netns_path": "proc/1/ns/net"}])
    assert errors == ["netns_path 'proc/1/ns/net' of the pair for netns app1 must be an absolute path"]
    out, errors = veth.normalize_pairs([{"netns": "app1"}])
    assert out[0]["netns_path"] is None and not errors


def test_veth_pair_counts_gateways_and_peers_per_namespace_file():
    dummy, errors = veth.normalize_pairs([{"netns": "app1", "netns_path": RUNTIME, "gateway": "169.254.1.1"},
                                          {"netns": "app2", "netns_path": RUNTIME, "gateway": "169.254.1.1"}])
    assert errors == ["peer eth0 in netns %s is listed more than once" % RUNTIME,
                      "netns %s has more than one pair with a gateway (one default route each)" % RUNTIME]
    # the same name with and without a path: two namespaces
    dummy, errors = veth.normalize_pairs([{"netns": "app1", "netns_path": RUNTIME, "gateway": "169.254.1.1"},
                                          {"netns": "app1", "host_ifname": "v2", "gateway": "169.254.1.1"}])
    assert not errors


def test_a_missing_runtime_namespace_fails_in_check_mode_too():
    for check_mode in (False, True):
        result = veth.plan_host(runtime_pair(), "present", {}, {"app1"}, check_mode=check_mode)
        assert result.errors == ["container app1: netns_path %s does not exist (is the container running?); "
                                 "cannot wire interface v1" % RUNTIME] and not result.create
    unusable = veth.plan_host(runtime_pair(), "present", {}, set(), unusable={RUNTIME: "is not a network namespace"})
    assert unusable.errors == ["container app1: netns_path %s is not a network namespace; cannot wire interface v1"
                               % RUNTIME]


def test_a_runtime_pair_is_created_and_visited_when_its_file_is_usable():
    result = veth.plan_host(runtime_pair(), "present", {}, {RUNTIME})
    assert not result.errors and [p["host_ifname"] for p in result.create] == ["v1"]
    assert veth.netns_ref(result.visit[0]) == RUNTIME
    assert veth.desired_view(result.visit[0])["netns_path"] == RUNTIME
    assert "netns_path" not in veth.desired_view(veth.normalize_pairs([{"netns": "c1"}])[0][0])


def test_deleting_a_runtime_pair_needs_no_namespace():
    host = {"index": 10, "name": "v1", "kind": "veth", "alias": "crossnet:app1", "mtu": 1500, "up": True,
            "mac": "02:00:00:00:00:01", "link": 2}
    result = veth.plan_host(runtime_pair(), "absent", {"v1": host}, set())
    assert not result.errors and result.delete == ["v1"]


def test_messages_inside_a_runtime_namespace_name_the_path():
    view = {"links": {"eth0": {"index": 2, "name": "eth0", "kind": "dummy", "alias": None, "mtu": 1500, "up": True,
                               "mac": None, "link": None}},
            "addrs": {}, "neigh": {}, "routes": {}}
    result = veth.plan_netns(runtime_pair(), {}, view)
    assert result.errors == ["netns app1 (%s) already has an interface eth0 that is not the peer of v1" % RUNTIME]
