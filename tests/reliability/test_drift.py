# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drift by hand: after each change below, one re-run of site.yml repairs it, reports ``changed``
on the right task and host, and leaves both hosts as a clean converge does (normalized snapshot:
the same rules, routes, links, namespaces, sysctls and files up to ifindex/MAC of recreated
veths)."""

from __future__ import annotations

import pytest

from harness import names, wait_for

LAB_NAME = "xrdrift"
TOPOLOGY = "two_hosts.yml"

VETH1 = names.host_ifname("c1", "eth0")  # host1's side of container c1
VETH2 = names.host_ifname("c2", "eth0")


def _gone(lab, host, ifname):
    return lambda: lab.run(host, ["ip", "link", "show", ifname]).returncode != 0


CASES = {
    "route-to-peer-container-deleted": ("host1", [["ip", "route", "del", "10.40.2.1/32"]], "host_route"),
    "veth-deleted": ("host1", [["ip", "link", "del", VETH1]], "veth_pair"),
    "container-address-removed": ("host2", [["ip", "-n", "c2", "addr", "flush", "dev", "eth0"]], "veth_pair"),
    "namespace-deleted": ("host2", [["ip", "netns", "del", "c2"]], "netns"),
    "proxy-arp-off": ("host1", [["sysctl", "-qw", "net.ipv4.conf.%s.proxy_arp=0" % VETH1]], "proxy_arp"),
    "rp-filter-off": ("host2", [["sysctl", "-qw", "net.ipv4.conf.%s.rp_filter=0" % VETH2]], "proxy_arp"),
    "ip-forward-off": ("host2", [["sysctl", "-qw", "net.ipv4.ip_forward=0"]], "forwarding"),
    "nat-chain-flushed": ("host1", [["iptables", "-t", "nat", "-F", "CROSSNET-POSTROUTING"]], "masquerade"),
    "nat-jump-deleted": ("host1", [["iptables", "-t", "nat", "-D", "POSTROUTING", "-m", "comment",
                                    "--comment", "crossnet", "-j", "CROSSNET-POSTROUTING"]], "masquerade"),
    "forward-jump-deleted": ("host2", [["iptables", "-D", "FORWARD", "-m", "comment", "--comment", "crossnet",
                                        "-j", "CROSSNET-FORWARD"]], "forwarding"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_one_rerun_repairs_drift(converged_lab, case):
    lab = converged_lab
    host, commands, module = CASES[case]
    for argv in commands:
        lab.run(host, argv, check=True)
    if case == "namespace-deleted":  # the kernel removes the veth with the namespace, later
        assert wait_for(_gone(lab, host, VETH2)), "the veth outlived its namespace"
    drifted = lab.normalized_diff(lab.converged)
    assert host in drifted, "the drift did not show in the snapshot of %s" % host

    run = lab.playbook()
    assert run.rc == 0, "the repair run failed: %s" % run.describe()
    repaired_by = run.changed_steps(host)
    assert module in repaired_by, "%s did not report changed on %s (changed: %s)\n%s" % (
        module, host, repaired_by, run.describe())
    left = lab.normalized_diff(lab.converged)
    assert not left, "not repaired:\n%s" % "\n".join("=== %s\n%s" % item for item in left.items())


@pytest.mark.teardown
def test_teardown_after_drift_restores_pristine(converged_lab):
    run = converged_lab.teardown()
    assert run.rc == 0, run.describe()
    converged_lab.assert_unchanged_since(converged_lab.pristine, "converge, drift, repair and teardown")
