# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""crossnet.routed.forwarding through Ansible in a sandbox, on both iptables backends and both
families (ip_forward and iptables; IPv6 forwarding, accept_ra and ip6tables).

The sandbox has its own network namespace (so its own ip_forward and rulesets) and private
/etc/sysctl.d and /var/lib/crossnet, so the default paths are the ones under test.
"""

from __future__ import annotations

import json
import os
import shutil

import netaddr
import pytest

from iptables_checks import (BACKENDS, default_route6, first_rule, foreign, hide_ip6tables, ip6t, ipt,
                             nft_tables, ours, ra_router, save, set_sysctl, snapshot, state_file, sysctl,
                             two_containers, udp_source)

IP_FORWARD = "net.ipv4.ip_forward"
IP6_FORWARD = "net.ipv6.conf.all.forwarding"
SYSCTL_FILE = "/etc/sysctl.d/60-crossnet.conf"
STATE_FILE = "/var/lib/crossnet/forwarding.json"
JUMP = "-A FORWARD -m comment --comment crossnet -j CROSSNET-FORWARD"
ARGS = {"container_networks": ["10.0.0.0/23", "10.9.0.7"]}
RULES = [
    "-A CROSSNET-FORWARD -s 10.0.0.0/23 -j ACCEPT",
    "-A CROSSNET-FORWARD -d 10.0.0.0/23 -j ACCEPT",
    "-A CROSSNET-FORWARD -s 10.9.0.7/32 -j ACCEPT",
    "-A CROSSNET-FORWARD -d 10.9.0.7/32 -j ACCEPT",
]


def read(box, path):
    proc = box.run(["cat", path])
    return proc.stdout if proc.returncode == 0 else None


def add_foreign_filter(box, backend):
    ipt(box, backend, "-P", "FORWARD", "DROP")
    ipt(box, backend, "-A", "FORWARD", "-s", "192.168.50.0/24", "-j", "ACCEPT")
    ipt(box, backend, "-N", "USER-FWD")
    ipt(box, backend, "-A", "USER-FWD", "-p", "tcp", "--dport", "22", "-j", "DROP")
    ipt(box, backend, "-A", "FORWARD", "-j", "USER-FWD")
    ipt(box, backend, "-A", "INPUT", "-i", "lo", "-j", "ACCEPT")


@pytest.mark.parametrize("backend", BACKENDS)
def test_lifecycle_restores_prior_and_leaves_foreign_rules(sandbox, backend):
    args = dict(ARGS, backend=backend)
    add_foreign_filter(sandbox, backend)
    untouched = foreign(sandbox, backend, "filter")
    assert ":FORWARD DROP" in untouched
    assert sysctl(sandbox, IP_FORWARD) == "0"

    predicted = sandbox.run_module("forwarding", args, check=True, diff=True)
    assert predicted["failed"] is False, predicted
    assert predicted["changed"] is True and predicted["ip_forward"] == "1"
    assert predicted["rules"] == RULES
    assert "%s = 0" % IP_FORWARD in predicted["diff"]["before"]
    assert "%s = 1" % IP_FORWARD in predicted["diff"]["after"]
    assert sysctl(sandbox, IP_FORWARD) == "0"
    assert read(sandbox, SYSCTL_FILE) is None and read(sandbox, STATE_FILE) is None
    assert ours(sandbox, backend, "filter") == []

    created = sandbox.run_module("forwarding", args, diff=True)
    assert created["changed"] is True and created["backend"] == backend
    assert created["prior_ip_forward"] == "0" and created["ip_forward"] == "1"
    assert sysctl(sandbox, IP_FORWARD) == "1"
    assert "\nnet.ipv4.ip_forward = 1\n" in read(sandbox, SYSCTL_FILE)
    assert json.loads(read(sandbox, STATE_FILE)) == {"ip_forward": "0"}
    assert sandbox.run(["stat", "-c", "%a", STATE_FILE]).stdout.strip() == "600"
    assert ours(sandbox, backend, "filter") == [JUMP] + RULES
    assert first_rule(sandbox, backend, "filter", "FORWARD") == JUMP
    assert foreign(sandbox, backend, "filter") == untouched
    assert JUMP in created["diff"]["after"] and JUMP not in created["diff"]["before"]

    again = sandbox.run_module("forwarding", args, diff=True)
    assert again["changed"] is False
    assert again["diff"]["before"] == again["diff"]["after"]
    assert sandbox.run_module("forwarding", args, check=True)["changed"] is False

    absent = {"state": "absent", "backend": backend}
    predicted = sandbox.run_module("forwarding", absent, check=True)
    assert predicted["changed"] is True and predicted["ip_forward"] == "0"
    assert sysctl(sandbox, IP_FORWARD) == "1" and read(sandbox, STATE_FILE) is not None

    removed = sandbox.run_module("forwarding", absent, diff=True)
    assert removed["changed"] is True and removed["ip_forward"] == "0"
    assert sysctl(sandbox, IP_FORWARD) == "0"
    assert read(sandbox, SYSCTL_FILE) is None and read(sandbox, STATE_FILE) is None
    assert "CROSSNET" not in save(sandbox, backend, "filter")
    assert foreign(sandbox, backend, "filter") == untouched
    assert sandbox.run_module("forwarding", absent)["changed"] is False


def test_prior_value_one_is_kept_and_never_overwritten(sandbox):
    sandbox.run(["sysctl", "-qw", IP_FORWARD + "=1"], check=True)
    assert sandbox.run_module("forwarding", ARGS)["changed"] is True  # the file is new
    assert json.loads(read(sandbox, STATE_FILE)) == {"ip_forward": "1"}

    sandbox.run(["sysctl", "-qw", IP_FORWARD + "=0"], check=True)  # drift by hand
    repaired = sandbox.run_module("forwarding", ARGS)
    assert repaired["changed"] is True and sysctl(sandbox, IP_FORWARD) == "1"
    assert json.loads(read(sandbox, STATE_FILE)) == {"ip_forward": "1"}

    assert sandbox.run_module("forwarding", {"state": "absent"})["changed"] is True
    assert sysctl(sandbox, IP_FORWARD) == "1"
    assert read(sandbox, SYSCTL_FILE) is None


def test_options_move_the_files(sandbox):
    args = dict(ARGS, sysctl_file="/var/lib/crossnet/other/99-fwd.conf",
                state_dir="/var/lib/crossnet/elsewhere")
    assert sandbox.run_module("forwarding", args)["changed"] is True
    assert "ip_forward = 1" in read(sandbox, "/var/lib/crossnet/other/99-fwd.conf")
    assert json.loads(read(sandbox, "/var/lib/crossnet/elsewhere/forwarding.json")) == {"ip_forward": "0"}
    assert read(sandbox, SYSCTL_FILE) is None and read(sandbox, STATE_FILE) is None
    assert sandbox.run_module("forwarding", dict(args, state="absent"))["changed"] is True
    assert read(sandbox, "/var/lib/crossnet/other/99-fwd.conf") is None
    assert sysctl(sandbox, IP_FORWARD) == "0"


@pytest.mark.parametrize("backend", BACKENDS)
def test_drift_is_repaired(sandbox, backend):
    args = dict(ARGS, backend=backend)
    assert sandbox.run_module("forwarding", args)["changed"] is True

    ipt(sandbox, backend, "-F", "CROSSNET-FORWARD")
    assert sandbox.run_module("forwarding", args)["changed"] is True
    assert ours(sandbox, backend, "filter") == [JUMP] + RULES

    ipt(sandbox, backend, "-D", "FORWARD", "-m", "comment", "--comment", "crossnet",
        "-j", "CROSSNET-FORWARD")
    ipt(sandbox, backend, "-A", "FORWARD", "-m", "comment", "--comment", "crossnet",
        "-j", "CROSSNET-FORWARD")
    ipt(sandbox, backend, "-A", "FORWARD", "-m", "comment", "--comment", "crossnet",
        "-j", "CROSSNET-FORWARD")
    assert sandbox.run_module("forwarding", args)["changed"] is True
    assert ours(sandbox, backend, "filter") == [JUMP] + RULES

    sandbox.run(["rm", SYSCTL_FILE], check=True)
    assert sandbox.run_module("forwarding", args, check=True)["changed"] is True
    assert read(sandbox, SYSCTL_FILE) is None
    assert sandbox.run_module("forwarding", args)["changed"] is True
    assert "ip_forward = 1" in read(sandbox, SYSCTL_FILE)
    assert sandbox.run_module("forwarding", args)["changed"] is False


@pytest.mark.parametrize("args, message", [
    ({"container_networks": ["10.0.0.0/8", "fd00::/129"]}, "fd00::/129"),
    ({"container_networks": ["10.0.0.0/8", "fd00::/48", "eth0"]}, "'eth0' is not an IPv4 or IPv6"),
    ({"container_networks": ["fd00::/48"], "accept_ra_interfaces": ["eth0", "a/b"]}, "accept_ra_interfaces"),
    ({"container_networks": ["fd00::/48"], "source_check_interfaces": ["x" * 16]}, "source_check_interfaces"),
])
def test_bad_network_fails_clearly(sandbox, args, message):
    result = sandbox.run_module("forwarding", args)
    assert result["failed"] is True and message in result["msg"], result
    assert sysctl(sandbox, IP_FORWARD) == "0" and read(sandbox, STATE_FILE) is None
    assert sysctl(sandbox, IP6_FORWARD) == "0"
    assert "CROSSNET" not in save(sandbox, "nft", "filter", family=6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_traffic_flows_with_forward_policy_drop(sandbox, backend):
    with two_containers(sandbox) as (left, right):
        ipt(sandbox, backend, "-P", "FORWARD", "DROP")
        args = {"container_networks": [left["net"]], "backend": backend}
        assert udp_source(sandbox, left, right) is None  # ip_forward 0

        sandbox.run(["sysctl", "-qw", IP_FORWARD + "=1"], check=True)
        assert udp_source(sandbox, left, right) is None  # policy DROP

        sandbox.run(["sysctl", "-qw", IP_FORWARD + "=0"], check=True)
        assert sandbox.run_module("forwarding", args)["changed"] is True
        assert udp_source(sandbox, left, right) == left["ip"]
        assert udp_source(sandbox, right, left) == right["ip"]
        assert ":FORWARD DROP" in foreign(sandbox, backend, "filter")

        assert sandbox.run_module("forwarding", dict(args, state="absent"))["changed"] is True
        assert sysctl(sandbox, IP_FORWARD) == "0"
        assert udp_source(sandbox, left, right) is None


def merged(count):
    """``count`` container addresses 10.1.0.1.. merged as the planner merges them."""
    addresses = [netaddr.IPAddress("10.1.0.%d" % i) for i in range(1, count + 1)]
    return [str(cidr) for cidr in netaddr.cidr_merge(addresses)]


def interfering_restore(directory, backend, mark):
    """An ``iptables-<backend>-restore`` for PATH that, once ``mark`` exists, first removes our
    jump and chain (as a concurrent teardown does), then does what it was asked."""
    real = shutil.which("iptables-%s-restore" % backend)
    teardown = os.path.join(directory, "teardown.rules")
    with open(teardown, "w", encoding="utf-8") as handle:
        handle.write("*filter\n-D %s\n:CROSSNET-FORWARD - [0:0]\n-X CROSSNET-FORWARD\nCOMMIT\n"
                     % JUMP[len("-A "):])
    script = os.path.join(directory, "iptables-%s-restore" % backend)
    with open(script, "w", encoding="utf-8") as handle:
        handle.write('#!/bin/sh\nif rm "%s" 2>/dev/null; then\n'
                     '    "%s" --noflush < "%s" || exit 99\nfi\nexec "%s" "$@"\n'
                     % (mark, real, teardown, real))
    os.chmod(script, 0o755)


@pytest.mark.parametrize("backend", BACKENDS)
def test_jump_deleted_between_read_and_restore_is_written_again(sandbox, backend, tmp_path,
                                                                monkeypatch):
    """Regression: the benchmark's N=50 "add one container" step failed with "does not read
    back as written": the chain came back with the new merged CIDRs but without its jump."""
    wrappers = tmp_path / "bin"
    wrappers.mkdir()
    mark = str(tmp_path / "interfere-once")
    interfering_restore(str(wrappers), backend, mark)
    monkeypatch.setenv("PATH", "%s%s%s" % (wrappers, os.pathsep, os.environ["PATH"]))

    fifty = {"container_networks": merged(50), "backend": backend}
    assert sandbox.run_module("forwarding", fifty)["changed"] is True
    assert ours(sandbox, backend, "filter")[0] == JUMP

    open(mark, "w", encoding="utf-8").close()
    one_more = dict(fifty, container_networks=merged(51))
    assert merged(51) != merged(50)
    result = sandbox.run_module("forwarding", one_more)
    assert not os.path.exists(mark), "the concurrent teardown did not happen"
    assert result["failed"] is False, result.get("msg")
    assert result["changed"] is True
    wanted = ["-A CROSSNET-FORWARD %s" % rule for cidr in merged(51)
              for rule in ("-s %s -j ACCEPT" % cidr, "-d %s -j ACCEPT" % cidr)]
    assert result["rules"] == wanted
    assert ours(sandbox, backend, "filter") == [JUMP] + wanted
    assert sandbox.run_module("forwarding", one_more)["changed"] is False


@pytest.mark.parametrize("backend", BACKENDS)
def test_foreign_chain_is_refused_unless_adopted(sandbox, backend):
    ipt(sandbox, backend, "-N", "CROSSNET-FORWARD")
    ipt(sandbox, backend, "-A", "CROSSNET-FORWARD", "-s", "10.99.0.0/24", "-j", "DROP")
    users = foreign(sandbox, backend, "filter") + ours(sandbox, backend, "filter")
    users += [line for line in save(sandbox, backend, "filter").splitlines() if "CROSSNET" in line]
    args = dict(ARGS, backend=backend)

    for params in (args, {"state": "absent", "backend": backend}):
        refused = sandbox.run_module("forwarding", params)
        assert refused["failed"] is True, refused
        assert "CROSSNET-FORWARD" in refused["msg"] and "adopt" in refused["msg"]
    now = foreign(sandbox, backend, "filter") + ours(sandbox, backend, "filter")
    now += [line for line in save(sandbox, backend, "filter").splitlines() if "CROSSNET" in line]
    assert now == users
    assert sysctl(sandbox, IP_FORWARD) == "0"
    assert read(sandbox, SYSCTL_FILE) is None and read(sandbox, STATE_FILE) is None
    assert state_file(sandbox) is None

    adopted = sandbox.run_module("forwarding", dict(args, adopt=True))
    assert adopted["changed"] is True and adopted["rules"] == RULES
    assert ours(sandbox, backend, "filter") == [JUMP] + RULES
    assert state_file(sandbox) == {backend: {"filter": {
        "chain": "CROSSNET-FORWARD", "table_existed": True if backend == "nft" else None}}}
    assert sandbox.run_module("forwarding", args)["changed"] is False
    assert sandbox.run_module("forwarding", {"state": "absent", "backend": backend})["changed"]
    assert "CROSSNET" not in save(sandbox, backend, "filter")
    assert sandbox.run(["ls", "-A", "/var/lib/crossnet"]).stdout == ""


def test_teardown_deletes_the_filter_table_it_created_nft(sandbox):
    assert "filter" not in nft_tables(sandbox)
    args = dict(ARGS, backend="nft")
    assert sandbox.run_module("forwarding", args)["changed"] is True
    assert state_file(sandbox) == {"nft": {"filter": {"chain": "CROSSNET-FORWARD",
                                                      "table_existed": False}}}
    assert json.loads(read(sandbox, STATE_FILE)) == {"ip_forward": "0"}
    assert "filter" in nft_tables(sandbox)

    assert sandbox.run_module("forwarding", {"state": "absent", "backend": "nft"})["changed"]
    assert "filter" not in nft_tables(sandbox)
    assert sandbox.run(["ls", "-A", "/var/lib/crossnet"]).stdout == ""
    assert sandbox.run_module("forwarding", {"state": "absent", "backend": "nft"})["changed"] is False


def test_teardown_keeps_a_created_filter_table_with_a_foreign_policy_nft(sandbox):
    args = dict(ARGS, backend="nft")
    assert sandbox.run_module("forwarding", args)["changed"] is True
    ipt(sandbox, "nft", "-P", "FORWARD", "DROP")
    assert sandbox.run_module("forwarding", {"state": "absent", "backend": "nft"})["changed"]
    assert "filter" in nft_tables(sandbox)
    assert ":FORWARD DROP" in foreign(sandbox, "nft", "filter")
    assert state_file(sandbox) is None


# --- IPv6 -------------------------------------------------------------------------------------

JUMP_RAW = "-A PREROUTING -m comment --comment crossnet -j CROSSNET-PREROUTING"
# up0 and up.1 have accept_ra 1 (a new interface's default), up2 has 0.
UPLINKS = {"up0": "1", "up.1": "1", "up2": "0"}
DUAL = {"container_networks": ["10.0.0.0/23", "fd00::5/48", "10.9.0.7", "fd00:1::7"],
        "accept_ra_interfaces": ["up0", "up.1", "up2", "absent0"],
        "source_check_interfaces": ["cnr+", "cnt2-l-host"]}
RULES6 = [
    "-A CROSSNET-FORWARD -s fd00::/48 -j ACCEPT",
    "-A CROSSNET-FORWARD -d fd00::/48 -j ACCEPT",
    "-A CROSSNET-FORWARD -s fd00:1::7/128 -j ACCEPT",
    "-A CROSSNET-FORWARD -d fd00:1::7/128 -j ACCEPT",
]
RAW6 = [
    "-A CROSSNET-PREROUTING -i cnr+ -m rpfilter --invert -j DROP",
    "-A CROSSNET-PREROUTING -i cnt2-l-host -m rpfilter --invert -j DROP",
]
HEADER = "# Managed by the crossnet.routed.forwarding module; state=absent removes this file.\n"
FILE4 = HEADER + "net.ipv4.ip_forward = 1\n"
FILE6 = FILE4 + ("net.ipv6.conf.all.forwarding = 1\n"
                 "net.ipv6.conf.up0.accept_ra = 2\n"
                 "net.ipv6.conf.up/1.accept_ra = 2\n")


def accept_ra(box, ifname):
    return sysctl(box, "net/ipv6/conf/%s/accept_ra" % ifname)


def add_uplinks(box):
    """Veth pairs standing in for uplinks (this kernel has no dummy devices), accept_ra as in
    UPLINKS."""
    for ifname, value in UPLINKS.items():
        box.run(["ip", "link", "add", ifname, "type", "veth", "peer", "name", ifname.replace(".", "") + "p"],
                check=True)
        set_sysctl(box, "net/ipv6/conf/%s/accept_ra" % ifname, value)
    assert {ifname: accept_ra(box, ifname) for ifname in UPLINKS} == UPLINKS


def add_foreign_filter6(box, backend):
    ip6t(box, backend, "-P", "FORWARD", "DROP")
    ip6t(box, backend, "-A", "FORWARD", "-s", "fd50::/64", "-j", "ACCEPT")
    ip6t(box, backend, "-t", "raw", "-A", "PREROUTING", "-i", "lo", "-j", "ACCEPT")


def ipv6_sysctls(box):
    return {"forwarding": sysctl(box, IP6_FORWARD),
            "accept_ra": {ifname: accept_ra(box, ifname) for ifname in UPLINKS}}


TABLES6 = ["filter", "raw", "nat"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_dual_stack_lifecycle_restores_everything(sandbox, backend):
    args = dict(DUAL, backend=backend)
    add_uplinks(sandbox)
    add_foreign_filter(sandbox, backend)
    add_foreign_filter6(sandbox, backend)
    before4 = snapshot(sandbox, backend, ["filter"])
    before6 = snapshot(sandbox, backend, TABLES6, family=6)
    raw6 = snapshot(sandbox, backend, ["raw"], family=6)
    tables6 = nft_tables(sandbox, "ip6")
    initial = ipv6_sysctls(sandbox)
    assert initial == {"forwarding": "0", "accept_ra": UPLINKS}

    predicted = sandbox.run_module("forwarding", args, check=True, diff=True)
    assert predicted["failed"] is False, predicted
    assert predicted["changed"] is True
    assert (predicted["ipv6_forwarding"], predicted["prior_ipv6_forwarding"]) == ("1", "0")
    assert predicted["rules"] == RULES and predicted["rules6"] == RULES6 + RAW6
    assert predicted["accept_ra"] == {
        "up0": {"before": "1", "after": "2", "prior": "1"},
        "up.1": {"before": "1", "after": "2", "prior": "1"},
        "up2": {"before": "0", "after": "0", "prior": None},
        "absent0": {"before": None, "after": None, "prior": None}}
    assert ipv6_sysctls(sandbox) == initial and sysctl(sandbox, IP_FORWARD) == "0"
    assert snapshot(sandbox, backend, TABLES6, family=6) == before6
    assert read(sandbox, SYSCTL_FILE) is None and read(sandbox, STATE_FILE) is None

    created = sandbox.run_module("forwarding", args, diff=True)
    assert created["changed"] is True
    assert created["accept_ra"] == predicted["accept_ra"]
    assert ipv6_sysctls(sandbox) == {"forwarding": "1", "accept_ra": {"up0": "2", "up.1": "2", "up2": "0"}}
    assert sysctl(sandbox, IP_FORWARD) == "1"
    assert read(sandbox, SYSCTL_FILE) == FILE6
    assert json.loads(read(sandbox, STATE_FILE)) == {
        "ip_forward": "0", "ipv6_forwarding": "0", "accept_ra": {"up0": "1", "up.1": "1"}}
    assert ours(sandbox, backend, "filter") == [JUMP] + RULES
    assert ours(sandbox, backend, "filter", family=6) == [JUMP] + RULES6
    assert ours(sandbox, backend, "raw", family=6) == [JUMP_RAW] + RAW6
    assert first_rule(sandbox, backend, "filter", "FORWARD", family=6) == JUMP
    assert first_rule(sandbox, backend, "raw", "PREROUTING", family=6) == JUMP_RAW
    assert foreign(sandbox, backend, "raw", family=6) == raw6
    assert ":FORWARD DROP" in foreign(sandbox, backend, "filter", family=6)
    assert foreign(sandbox, backend, "filter", family=6) == before6[:before6.index("COMMIT") + 1]
    diff_before, diff_after = created["diff"]["before"], created["diff"]["after"]
    for line in ("net.ipv6.conf.all.forwarding = 0", "net.ipv6.conf.up0.accept_ra = 1",
                 "net.ipv6.conf.up/1.accept_ra = 1", "net.ipv6.conf.up2.accept_ra = 0"):
        assert line in diff_before.splitlines()
    for line in ["net.ipv6.conf.all.forwarding = 1", "net.ipv6.conf.up0.accept_ra = 2",
                 "net.ipv6.conf.up/1.accept_ra = 2", "net.ipv6.conf.up2.accept_ra = 0",
                 "net.ipv6.conf.absent0.accept_ra = (no such interface)",
                 "# ip6tables -t filter", "# ip6tables -t raw", JUMP_RAW] + RAW6 + RULES6:
        assert line in diff_after.splitlines()

    again = sandbox.run_module("forwarding", args, diff=True)
    assert again["changed"] is False
    assert again["diff"]["before"] == again["diff"]["after"]
    assert sandbox.run_module("forwarding", args, check=True)["changed"] is False

    # Reset by hand: repaired, the recorded priors kept.
    set_sysctl(sandbox, "net/ipv6/conf/up0/accept_ra", 1)
    sandbox.run(["sysctl", "-qw", IP6_FORWARD + "=0"], check=True)
    assert sandbox.run_module("forwarding", args)["changed"] is True
    assert ipv6_sysctls(sandbox) == {"forwarding": "1", "accept_ra": {"up0": "2", "up.1": "2", "up2": "0"}}
    assert json.loads(read(sandbox, STATE_FILE))["accept_ra"] == {"up0": "1", "up.1": "1"}

    # No IPv6 network, no source check: the IPv6 side goes back to what it was.
    ipv4_only = dict(args, container_networks=["10.0.0.0/23", "10.9.0.7"], source_check_interfaces=[])
    dropped = sandbox.run_module("forwarding", ipv4_only, diff=True)
    assert dropped["changed"] is True and dropped["rules6"] == [] and dropped["ipv6_forwarding"] == "0"
    assert ipv6_sysctls(sandbox) == initial
    assert read(sandbox, SYSCTL_FILE) == FILE4
    assert json.loads(read(sandbox, STATE_FILE)) == {"ip_forward": "0"}
    assert snapshot(sandbox, backend, TABLES6, family=6) == before6
    assert ours(sandbox, backend, "filter") == [JUMP] + RULES and sysctl(sandbox, IP_FORWARD) == "1"
    assert "net.ipv6.conf.all.forwarding = 1" in dropped["diff"]["before"].splitlines()
    assert "net.ipv6.conf.all.forwarding = 0" in dropped["diff"]["after"].splitlines()
    assert sandbox.run_module("forwarding", ipv4_only)["changed"] is False

    # Dual stack again, then absent: every value and table as before the first run.
    assert sandbox.run_module("forwarding", args)["changed"] is True
    assert json.loads(read(sandbox, STATE_FILE))["accept_ra"] == {"up0": "1", "up.1": "1"}
    absent = {"state": "absent", "backend": backend}
    predicted = sandbox.run_module("forwarding", absent, check=True)
    assert predicted["changed"] is True and predicted["ipv6_forwarding"] == "0"
    assert predicted["accept_ra"]["up0"] == {"before": "2", "after": "1", "prior": "1"}
    assert sysctl(sandbox, IP6_FORWARD) == "1"
    removed = sandbox.run_module("forwarding", absent, diff=True)
    assert removed["changed"] is True and removed["rules6"] == []
    assert ipv6_sysctls(sandbox) == initial and sysctl(sandbox, IP_FORWARD) == "0"
    assert snapshot(sandbox, backend, TABLES6, family=6) == before6
    assert snapshot(sandbox, backend, ["filter"]) == before4
    assert nft_tables(sandbox, "ip6") == tables6
    assert read(sandbox, SYSCTL_FILE) is None
    assert sandbox.run(["ls", "-A", "/var/lib/crossnet"]).stdout == ""
    assert sandbox.run_module("forwarding", absent)["changed"] is False


def test_ipv6_values_already_set_are_kept(sandbox):
    add_uplinks(sandbox)
    sandbox.run(["sysctl", "-qw", IP6_FORWARD + "=1", IP_FORWARD + "=1"], check=True)
    set_sysctl(sandbox, "net/ipv6/conf/up0/accept_ra", 2)
    args = {"container_networks": ["fd00::/48"], "accept_ra_interfaces": ["up0"]}
    result = sandbox.run_module("forwarding", args)
    assert result["changed"] is True   # the file is new
    assert result["accept_ra"] == {"up0": {"before": "2", "after": "2", "prior": None}}
    assert json.loads(read(sandbox, STATE_FILE)) == {"ip_forward": "1", "ipv6_forwarding": "1"}
    assert read(sandbox, SYSCTL_FILE) == FILE4 + "net.ipv6.conf.all.forwarding = 1\n"
    # An IPv6-only host still gets the (empty) IPv4 chain, as before; no source check chain.
    assert ours(sandbox, "nft", "filter") == [JUMP]
    assert "CROSSNET" not in save(sandbox, "nft", "raw", family=6)
    assert sandbox.run_module("forwarding", {"state": "absent"})["changed"] is True
    assert sysctl(sandbox, IP6_FORWARD) == "1" and accept_ra(sandbox, "up0") == "2"
    assert sysctl(sandbox, IP_FORWARD) == "1"


@pytest.mark.parametrize("backend, table", [("nft", "raw"), ("legacy", "filter")])
def test_foreign_ip6_chain_is_refused_before_anything_changes(sandbox, backend, table):
    add_uplinks(sandbox)
    chain = "CROSSNET-PREROUTING" if table == "raw" else "CROSSNET-FORWARD"
    ip6t(sandbox, backend, "-t", table, "-N", chain)
    ip6t(sandbox, backend, "-t", table, "-A", chain, "-s", "fd99::/64", "-j", "DROP")
    users6 = snapshot(sandbox, backend, TABLES6, family=6)
    users4 = snapshot(sandbox, backend, ["filter"])
    args = dict(DUAL, backend=backend)
    for params in (args, {"state": "absent", "backend": backend}):
        refused = sandbox.run_module("forwarding", params)
        assert refused["failed"] is True, refused
        assert "ip6tables %s chain %s" % (table, chain) in refused["msg"] and "adopt" in refused["msg"]
    assert snapshot(sandbox, backend, TABLES6, family=6) == users6
    assert snapshot(sandbox, backend, ["filter"]) == users4
    assert ipv6_sysctls(sandbox) == {"forwarding": "0", "accept_ra": UPLINKS}
    assert sysctl(sandbox, IP_FORWARD) == "0"
    assert read(sandbox, SYSCTL_FILE) is None and read(sandbox, STATE_FILE) is None
    assert state_file(sandbox) is None

    adopted = sandbox.run_module("forwarding", dict(args, adopt=True))
    assert adopted["changed"] is True and adopted["rules6"] == RULES6 + RAW6
    assert sandbox.run_module("forwarding", args)["changed"] is False
    assert sandbox.run_module("forwarding", {"state": "absent", "backend": backend})["changed"] is True
    assert "CROSSNET" not in save(sandbox, backend, table, family=6)
    assert ipv6_sysctls(sandbox) == {"forwarding": "0", "accept_ra": UPLINKS}


def test_host_without_ip6tables(sandbox, tmp_path):
    """IPv4 works as before without ip6tables; IPv6 networks fail clearly and change nothing."""
    scratch = tmp_path / "hide"
    scratch.mkdir()
    hide_ip6tables(sandbox, str(scratch))
    created = sandbox.run_module("forwarding", ARGS, diff=True)
    assert created["failed"] is False, created
    assert created["changed"] is True and created["rules"] == RULES and created["rules6"] == []
    assert "ip6tables" not in created["diff"]["after"]
    assert sandbox.run_module("forwarding", ARGS)["changed"] is False

    refused = sandbox.run_module("forwarding", DUAL)
    assert refused["failed"] is True and "need ip6tables" in refused["msg"], refused
    assert sysctl(sandbox, IP6_FORWARD) == "0"
    assert read(sandbox, SYSCTL_FILE) == FILE4
    assert sandbox.run_module("forwarding", {"state": "absent"})["changed"] is True
    assert sysctl(sandbox, IP_FORWARD) == "0"


@pytest.mark.parametrize("backend", BACKENDS)
def test_ipv6_traffic_with_forward_policy_drop_and_forged_sources_dropped(sandbox, backend):
    forged = "fd77:2::99"   # RIGHT's network, sent from LEFT
    with two_containers(sandbox, ipv6=True) as (left, right):
        # deprecated: used only by a socket bound to it, never picked as a source
        sandbox.run(["ip", "-n", left["netns"], "addr", "add", forged + "/128", "dev", "eth0", "nodad",
                     "preferred_lft", "0"], check=True)
        ip6t(sandbox, backend, "-P", "FORWARD", "DROP")
        args = {"container_networks": [left["net"], right["net"], left["net6"], right["net6"]],
                "backend": backend}
        assert udp_source(sandbox, left, right, family=6) is None   # forwarding 0

        assert sandbox.run_module("forwarding", args)["changed"] is True
        assert udp_source(sandbox, left, right, family=6) == left["ip6"]
        assert udp_source(sandbox, right, left, family=6) == right["ip6"]
        assert udp_source(sandbox, left, right) == left["ip"]
        assert ":FORWARD DROP" in foreign(sandbox, backend, "filter", family=6)
        # Without a source check a container can send as another one.
        assert udp_source(sandbox, left, right, family=6, source=forged) == forged

        checked = dict(args, source_check_interfaces=[left["host_if"], right["host_if"]])
        assert sandbox.run_module("forwarding", checked)["changed"] is True
        assert udp_source(sandbox, left, right, family=6, source=forged) is None
        assert udp_source(sandbox, left, right, family=6) == left["ip6"]
        assert udp_source(sandbox, right, left, family=6) == right["ip6"]
        counters = save(sandbox, backend, "raw", family=6)
        assert "CROSSNET-PREROUTING -i %s -m rpfilter --invert -j DROP" % left["host_if"] in counters

        assert sandbox.run_module("forwarding", dict(checked, state="absent"))["changed"] is True
        assert sysctl(sandbox, IP6_FORWARD) == "0"
        assert udp_source(sandbox, left, right, family=6) is None


def test_router_advertised_default_route_survives(sandbox):
    """The kernel drops the RA default routes of interfaces with accept_ra 1 when IPv6
    forwarding goes on; the uplink listed in accept_ra_interfaces keeps its route."""
    with ra_router(sandbox, "up0") as advertise:
        advertise()
        assert "proto ra" in default_route6(sandbox)
        unprotected = {"container_networks": ["fd00::/48"]}
        assert sandbox.run_module("forwarding", unprotected)["changed"] is True
        assert default_route6(sandbox) == ""   # what happens without accept_ra 2
        assert sandbox.run_module("forwarding", {"state": "absent"})["changed"] is True
        assert sysctl(sandbox, IP6_FORWARD) == "0"

        advertise()
        protected = dict(unprotected, accept_ra_interfaces=["up0"])
        result = sandbox.run_module("forwarding", protected)
        assert result["changed"] is True and result["accept_ra"]["up0"]["after"] == "2"
        assert sysctl(sandbox, IP6_FORWARD) == "1"
        assert "proto ra" in default_route6(sandbox)
        advertise()   # still listened to with forwarding on
        assert "proto ra" in default_route6(sandbox)
        assert sandbox.run_module("forwarding", {"state": "absent"})["changed"] is True
        assert accept_ra(sandbox, "up0") == "1" and sysctl(sandbox, IP6_FORWARD) == "0"
        assert "proto ra" in default_route6(sandbox)
