# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""crossnet.routed.masquerade through Ansible in a sandbox, on both iptables backends and both
families (iptables and ip6tables)."""

from __future__ import annotations

import pytest

from iptables_checks import (BACKENDS, first_rule, foreign, hide_ip6tables, ip6t, ipt, nft_tables,
                             ours, save, snapshot, state_file, two_containers, udp_source)

JUMP = "-A POSTROUTING -m comment --comment crossnet -j CROSSNET-POSTROUTING"
ARGS = {"sources": ["10.0.0.1", "10.0.0.2/32"], "exclude": ["10.0.0.5/23"]}
RULES = [
    "-A CROSSNET-POSTROUTING -d 10.0.0.0/23 -j RETURN",
    "-A CROSSNET-POSTROUTING -s 10.0.0.1/32 -j MASQUERADE",
    "-A CROSSNET-POSTROUTING -s 10.0.0.2/32 -j MASQUERADE",
]


def other(backend):
    return [b for b in BACKENDS if b != backend][0]


def add_foreign_nat(box, backend):
    """What a user or another tool already has in the nat table."""
    ipt(box, backend, "-t", "nat", "-A", "POSTROUTING", "-s", "192.168.50.0/24", "-j", "MASQUERADE")
    ipt(box, backend, "-t", "nat", "-N", "USER-NAT")
    ipt(box, backend, "-t", "nat", "-A", "USER-NAT", "-d", "172.16.0.0/12", "-j", "RETURN")
    ipt(box, backend, "-t", "nat", "-A", "POSTROUTING", "-o", "lo", "-j", "USER-NAT")
    ipt(box, backend, "-t", "nat", "-P", "POSTROUTING", "ACCEPT")


@pytest.mark.parametrize("backend", BACKENDS)
def test_lifecycle_leaves_foreign_rules_alone(sandbox, backend):
    args = dict(ARGS, backend=backend)
    add_foreign_nat(sandbox, backend)
    untouched = foreign(sandbox, backend, "nat")
    assert len(untouched) > 8

    predicted = sandbox.run_module("masquerade", args, check=True, diff=True)
    assert predicted["failed"] is False, predicted
    assert predicted["changed"] is True and predicted["rules"] == RULES
    assert ours(sandbox, backend, "nat") == []

    created = sandbox.run_module("masquerade", args, diff=True)
    assert created["changed"] is True and created["backend"] == backend
    assert created["rules"] == RULES
    assert created["diff"]["before"] == ""
    assert created["diff"]["after"] == "".join(line + "\n" for line in [JUMP] + RULES)
    assert ours(sandbox, backend, "nat") == [JUMP] + RULES
    assert first_rule(sandbox, backend, "nat", "POSTROUTING") == JUMP
    assert foreign(sandbox, backend, "nat") == untouched
    # The other backend's tables are a different ruleset: nothing of ours there.
    assert "CROSSNET" not in save(sandbox, other(backend), "nat")

    again = sandbox.run_module("masquerade", args, diff=True)
    assert again["changed"] is False and again["rules"] == RULES
    assert again["diff"]["before"] == again["diff"]["after"]
    assert sandbox.run_module("masquerade", args, check=True)["changed"] is False

    narrower = dict(args, sources=["10.0.0.1"], out_interface="eth+")
    edited = sandbox.run_module("masquerade", narrower, diff=True)
    assert edited["changed"] is True
    assert edited["rules"] == [RULES[0], "-A CROSSNET-POSTROUTING -s 10.0.0.1/32 -o eth+ -j MASQUERADE"]
    assert "-s 10.0.0.2/32" in edited["diff"]["before"] and "-s 10.0.0.2/32" not in edited["diff"]["after"]
    assert ours(sandbox, backend, "nat") == [JUMP] + edited["rules"]
    assert foreign(sandbox, backend, "nat") == untouched

    absent = {"state": "absent", "backend": backend}
    predicted = sandbox.run_module("masquerade", absent, check=True)
    assert predicted["changed"] is True and predicted["rules"] == []
    assert ours(sandbox, backend, "nat") == [JUMP] + edited["rules"]

    removed = sandbox.run_module("masquerade", absent, diff=True)
    assert removed["changed"] is True and removed["diff"]["after"] == ""
    assert "CROSSNET" not in save(sandbox, backend, "nat")
    assert foreign(sandbox, backend, "nat") == untouched
    assert sandbox.run_module("masquerade", absent)["changed"] is False


@pytest.mark.parametrize("backend", BACKENDS)
def test_drift_is_repaired(sandbox, backend):
    args = dict(ARGS, backend=backend)
    assert sandbox.run_module("masquerade", args)["changed"] is True

    ipt(sandbox, backend, "-t", "nat", "-F", "CROSSNET-POSTROUTING")
    assert ours(sandbox, backend, "nat") == [JUMP]
    repaired = sandbox.run_module("masquerade", args, diff=True)
    assert repaired["changed"] is True and repaired["diff"]["before"] == JUMP + "\n"
    assert ours(sandbox, backend, "nat") == [JUMP] + RULES

    ipt(sandbox, backend, "-t", "nat", "-D", "POSTROUTING", "-m", "comment", "--comment",
        "crossnet", "-j", "CROSSNET-POSTROUTING")
    assert sandbox.run_module("masquerade", args, check=True)["changed"] is True
    assert ours(sandbox, backend, "nat") == RULES
    assert sandbox.run_module("masquerade", args)["changed"] is True
    assert ours(sandbox, backend, "nat") == [JUMP] + RULES

    ipt(sandbox, backend, "-t", "nat", "-A", "POSTROUTING", "-m", "comment", "--comment",
        "crossnet", "-j", "CROSSNET-POSTROUTING")
    ipt(sandbox, backend, "-t", "nat", "-I", "CROSSNET-POSTROUTING", "2", "-j", "ACCEPT")
    assert sandbox.run_module("masquerade", args)["changed"] is True
    assert ours(sandbox, backend, "nat") == [JUMP] + RULES

    # A rule someone puts above our jump stays there: the jump's position is not fought over.
    ipt(sandbox, backend, "-t", "nat", "-I", "POSTROUTING", "1", "-s", "192.168.7.0/24", "-j", "ACCEPT")
    assert sandbox.run_module("masquerade", args)["changed"] is False
    assert first_rule(sandbox, backend, "nat", "POSTROUTING") == \
        "-A POSTROUTING -s 192.168.7.0/24 -j ACCEPT"


def test_auto_backend_is_what_iptables_reports(sandbox):
    version = sandbox.run(["iptables", "-V"]).stdout
    expected = "nft" if "nf_tables" in version else "legacy"
    result = sandbox.run_module("masquerade", {"sources": ["10.0.0.1"]})
    assert result["changed"] is True and result["backend"] == expected
    assert ours(sandbox, expected, "nat")[0] == JUMP


@pytest.mark.parametrize("args, message", [
    ({"sources": ["fd00::/129"]}, "not an IPv6"),
    ({"sources": ["10.0.0.1", "eth0"]}, "not an IPv4 or IPv6"),
    ({"exclude": ["10/8"]}, "not an IPv4"),
    ({"sources": ["10.0.0.1"], "out_interface": "a-very-long-interface-name"}, "out_interface"),
])
def test_bad_arguments_fail_clearly(sandbox, args, message):
    result = sandbox.run_module("masquerade", dict(args, exclude=args.get("exclude", []) + ["fd00::/48"]))
    assert result["failed"] is True and message in result["msg"]
    assert "CROSSNET" not in save(sandbox, "nft", "nat")
    assert "CROSSNET" not in save(sandbox, "nft", "nat", family=6)


def test_absent_refuses_when_chain_is_still_referenced(sandbox):
    assert sandbox.run_module("masquerade", {"sources": ["10.0.0.1"], "backend": "nft"})["changed"]
    ipt(sandbox, "nft", "-t", "nat", "-A", "POSTROUTING", "-j", "CROSSNET-POSTROUTING")
    result = sandbox.run_module("masquerade", {"state": "absent", "backend": "nft"})
    assert result["failed"] is True and "iptables-nft-restore" in result["msg"]
    # The failed transaction changed nothing.
    assert JUMP in ours(sandbox, "nft", "nat")


@pytest.mark.parametrize("backend", BACKENDS)
def test_traffic_is_masqueraded_except_towards_excluded(sandbox, backend):
    with two_containers(sandbox) as (left, right):
        sandbox.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)
        assert udp_source(sandbox, left, right) == left["ip"]

        args = {"sources": [left["net"]], "backend": backend}
        assert sandbox.run_module("masquerade", args)["changed"] is True
        assert udp_source(sandbox, left, right) == right["host_ip"]

        excluded = dict(args, exclude=[right["net"]])
        assert sandbox.run_module("masquerade", excluded)["changed"] is True
        assert udp_source(sandbox, left, right) == left["ip"]

        assert sandbox.run_module("masquerade", args)["changed"] is True
        assert udp_source(sandbox, left, right) == right["host_ip"]
        assert sandbox.run_module("masquerade", {"state": "absent", "backend": backend})["changed"]
        assert udp_source(sandbox, left, right) == left["ip"]


def uncommented(text):
    return [line for line in text.splitlines() if not line.startswith("#")]


def record(backend, table_existed):
    return {backend: {"nat": {"chain": "CROSSNET-POSTROUTING", "table_existed": table_existed}}}


@pytest.mark.parametrize("backend", BACKENDS)
def test_foreign_chain_is_refused_unless_adopted(sandbox, backend):
    ipt(sandbox, backend, "-t", "nat", "-N", "CROSSNET-POSTROUTING")
    ipt(sandbox, backend, "-t", "nat", "-A", "CROSSNET-POSTROUTING", "-s", "10.99.0.0/24", "-j", "ACCEPT")
    users = uncommented(save(sandbox, backend, "nat"))
    args = dict(ARGS, backend=backend)

    for check in (True, False):
        refused = sandbox.run_module("masquerade", args, check=check)
        assert refused["failed"] is True and "CROSSNET-POSTROUTING" in refused["msg"]
        assert "adopt" in refused["msg"]
    refused = sandbox.run_module("masquerade", {"state": "absent", "backend": backend})
    assert refused["failed"] is True and "CROSSNET-POSTROUTING" in refused["msg"]
    assert uncommented(save(sandbox, backend, "nat")) == users
    assert state_file(sandbox) is None

    adopted = sandbox.run_module("masquerade", dict(args, adopt=True), diff=True)
    assert adopted["changed"] is True and adopted["rules"] == RULES
    assert "-A CROSSNET-POSTROUTING -s 10.99.0.0/24 -j ACCEPT" in adopted["diff"]["before"]
    assert ours(sandbox, backend, "nat") == [JUMP] + RULES
    assert state_file(sandbox) == record(backend, None if backend == "legacy" else True)
    # Ours from now on: no adopt needed.
    assert sandbox.run_module("masquerade", args)["changed"] is False
    assert sandbox.run_module("masquerade", {"state": "absent", "backend": backend})["changed"]
    assert "CROSSNET" not in save(sandbox, backend, "nat")
    assert state_file(sandbox) is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_tagged_jump_proves_ownership_when_the_state_dir_is_lost(sandbox, backend):
    args = dict(ARGS, backend=backend)
    assert sandbox.run_module("masquerade", args)["changed"] is True
    recorded = state_file(sandbox)
    assert recorded["%s" % backend]["nat"]["chain"] == "CROSSNET-POSTROUTING"
    sandbox.run(["rm", "-r", "/var/lib/crossnet/iptables.json"], check=True)

    ipt(sandbox, backend, "-t", "nat", "-F", "CROSSNET-POSTROUTING")  # and drift on top
    repaired = sandbox.run_module("masquerade", args)
    assert repaired["failed"] is False and repaired["changed"] is True
    assert ours(sandbox, backend, "nat") == [JUMP] + RULES
    assert state_file(sandbox) == record(backend, None if backend == "legacy" else True)
    assert sandbox.run_module("masquerade", args)["changed"] is False


def test_teardown_deletes_the_nat_table_it_created_nft(sandbox):
    assert "nat" not in nft_tables(sandbox)
    args = dict(ARGS, backend="nft")
    assert sandbox.run_module("masquerade", args, check=True)["changed"] is True
    assert state_file(sandbox) is None and "nat" not in nft_tables(sandbox)

    assert sandbox.run_module("masquerade", args)["changed"] is True
    assert state_file(sandbox) == record("nft", False)
    assert "nat" in nft_tables(sandbox)

    absent = {"state": "absent", "backend": "nft"}
    assert sandbox.run_module("masquerade", absent, check=True)["changed"] is True
    assert "nat" in nft_tables(sandbox) and state_file(sandbox) is not None
    assert sandbox.run_module("masquerade", absent)["changed"] is True
    assert "nat" not in nft_tables(sandbox)
    assert sandbox.run(["ls", "-A", "/var/lib/crossnet"]).stdout == ""
    assert sandbox.run_module("masquerade", absent)["changed"] is False
    assert "nat" not in nft_tables(sandbox)


def test_teardown_keeps_a_created_nat_table_that_got_foreign_rules_nft(sandbox):
    args = dict(ARGS, backend="nft")
    assert sandbox.run_module("masquerade", args)["changed"] is True
    assert state_file(sandbox) == record("nft", False)
    ipt(sandbox, "nft", "-t", "nat", "-A", "POSTROUTING", "-s", "192.168.50.0/24", "-j", "MASQUERADE")
    assert sandbox.run_module("masquerade", {"state": "absent", "backend": "nft"})["changed"] is True
    assert "nat" in nft_tables(sandbox)
    assert foreign(sandbox, "nft", "nat")[-2:] == [
        "-A POSTROUTING -s 192.168.50.0/24 -j MASQUERADE", "COMMIT"]
    assert state_file(sandbox) is None


def test_teardown_keeps_a_nat_table_that_existed_nft(sandbox):
    ipt(sandbox, "nft", "-t", "nat", "-P", "POSTROUTING", "ACCEPT")  # an empty table, not ours
    assert "nat" in nft_tables(sandbox)
    args = dict(ARGS, backend="nft")
    assert sandbox.run_module("masquerade", args)["changed"] is True
    assert state_file(sandbox) == record("nft", True)
    assert sandbox.run_module("masquerade", {"state": "absent", "backend": "nft"})["changed"] is True
    assert "nat" in nft_tables(sandbox)


def test_legacy_teardown_leaves_the_kernel_table(sandbox):
    args = dict(ARGS, backend="legacy")
    assert sandbox.run_module("masquerade", args)["changed"] is True
    assert state_file(sandbox) == record("legacy", None)
    # The IPv6 side was only looked at: no ip6tables table was created by reading it.
    assert sandbox.run(["cat", "/proc/net/ip6_tables_names"]).stdout == ""
    assert sandbox.run_module("masquerade", {"state": "absent", "backend": "legacy"})["changed"]
    assert state_file(sandbox) is None
    assert "CROSSNET" not in save(sandbox, "legacy", "nat")


# --- IPv6 -------------------------------------------------------------------------------------

DUAL = {"sources": ["10.0.0.1", "fd00:0:0:1::5/64", "10.0.0.2/32", "fd00::7"],
        "exclude": ["10.0.0.5/23", "fd00::/48"]}
RULES6 = [
    "-A CROSSNET-POSTROUTING -d fd00::/48 -j RETURN",
    "-A CROSSNET-POSTROUTING -s fd00:0:0:1::/64 -j MASQUERADE",
    "-A CROSSNET-POSTROUTING -s fd00::7/128 -j MASQUERADE",
]


def add_foreign_nat6(box, backend):
    ip6t(box, backend, "-t", "nat", "-A", "POSTROUTING", "-s", "fd50::/64", "-j", "MASQUERADE")
    ip6t(box, backend, "-t", "nat", "-N", "USER-NAT")
    ip6t(box, backend, "-t", "nat", "-A", "USER-NAT", "-d", "2001:db8::/32", "-j", "RETURN")
    ip6t(box, backend, "-t", "nat", "-A", "POSTROUTING", "-o", "lo", "-j", "USER-NAT")


@pytest.mark.parametrize("backend", BACKENDS)
def test_dual_stack_lifecycle_restores_ip6tables_exactly(sandbox, backend):
    args = dict(DUAL, backend=backend)
    add_foreign_nat(sandbox, backend)
    add_foreign_nat6(sandbox, backend)
    before4 = snapshot(sandbox, backend, ["nat"])
    before6 = snapshot(sandbox, backend, ["nat", "filter", "raw"], family=6)
    snapshot_nat6 = snapshot(sandbox, backend, ["nat"], family=6)
    tables6 = nft_tables(sandbox, "ip6")

    predicted = sandbox.run_module("masquerade", args, check=True, diff=True)
    assert predicted["failed"] is False, predicted
    assert predicted["changed"] is True
    assert (predicted["rules"], predicted["rules6"]) == (RULES, RULES6)
    assert snapshot(sandbox, backend, ["nat", "filter", "raw"], family=6) == before6
    assert snapshot(sandbox, backend, ["nat"]) == before4

    created = sandbox.run_module("masquerade", args, diff=True)
    assert created["changed"] is True and created["backend"] == backend
    assert (created["rules"], created["rules6"]) == (RULES, RULES6)
    assert ours(sandbox, backend, "nat") == [JUMP] + RULES
    assert ours(sandbox, backend, "nat", family=6) == [JUMP] + RULES6
    assert first_rule(sandbox, backend, "nat", "POSTROUTING", family=6) == JUMP
    assert foreign(sandbox, backend, "nat", family=6) == snapshot_nat6
    assert foreign(sandbox, backend, "nat") == before4
    header = "iptables -t nat (%s): CROSSNET-POSTROUTING; ip6tables -t nat (%s): CROSSNET-POSTROUTING" % (
        backend, backend)
    assert created["diff"]["before_header"] == created["diff"]["after_header"] == header
    assert created["diff"]["after"] == "".join(line + "\n" for line in (
        ["# iptables -t nat (%s): CROSSNET-POSTROUTING" % backend, JUMP] + RULES
        + ["# ip6tables -t nat (%s): CROSSNET-POSTROUTING" % backend, JUMP] + RULES6))
    recorded = state_file(sandbox)
    assert set(recorded) == {backend, backend + "-ip6"}
    assert recorded[backend + "-ip6"]["nat"]["chain"] == "CROSSNET-POSTROUTING"

    again = sandbox.run_module("masquerade", args, diff=True)
    assert again["changed"] is False and again["rules6"] == RULES6
    assert again["diff"]["before"] == again["diff"]["after"]
    assert sandbox.run_module("masquerade", args, check=True)["changed"] is False

    # IPv6 sources gone: the IPv6 chain goes, exactly as it was before; IPv4 stays.
    ipv4_only = dict(args, sources=["10.0.0.1", "10.0.0.2/32"])
    dropped = sandbox.run_module("masquerade", ipv4_only, diff=True)
    assert dropped["changed"] is True and dropped["rules"] == RULES and dropped["rules6"] == []
    assert "-A CROSSNET-POSTROUTING -d fd00::/48 -j RETURN" in dropped["diff"]["before"]
    assert "fd00" not in dropped["diff"]["after"]
    assert snapshot(sandbox, backend, ["nat", "filter", "raw"], family=6) == before6
    assert ours(sandbox, backend, "nat") == [JUMP] + RULES
    assert set(state_file(sandbox)) == {backend}
    assert sandbox.run_module("masquerade", ipv4_only, diff=True)["diff"]["after"] == \
        "".join(line + "\n" for line in [JUMP] + RULES)

    # IPv6 only: the IPv4 chain goes.
    ipv6_only = dict(args, sources=["fd00:0:0:1::/64", "fd00::7"])
    assert sandbox.run_module("masquerade", ipv6_only)["changed"] is True
    assert ours(sandbox, backend, "nat") == []
    assert snapshot(sandbox, backend, ["nat"]) == before4
    assert ours(sandbox, backend, "nat", family=6) == [JUMP] + RULES6

    assert sandbox.run_module("masquerade", args)["changed"] is True
    absent = {"state": "absent", "backend": backend}
    predicted = sandbox.run_module("masquerade", absent, check=True)
    assert predicted["changed"] is True and predicted["rules"] == predicted["rules6"] == []
    assert ours(sandbox, backend, "nat", family=6) == [JUMP] + RULES6
    removed = sandbox.run_module("masquerade", absent, diff=True)
    assert removed["changed"] is True and removed["rules6"] == []
    assert "# ip6tables -t nat" in removed["diff"]["before"]
    assert snapshot(sandbox, backend, ["nat", "filter", "raw"], family=6) == before6
    assert snapshot(sandbox, backend, ["nat"]) == before4
    assert nft_tables(sandbox, "ip6") == tables6
    assert state_file(sandbox) is None
    assert sandbox.run_module("masquerade", absent)["changed"] is False


def test_teardown_deletes_the_ip6_nat_table_it_created_nft(sandbox):
    assert nft_tables(sandbox, "ip6") == []
    args = {"sources": ["fd00::/64"], "backend": "nft"}
    assert sandbox.run_module("masquerade", args)["changed"] is True
    assert state_file(sandbox) == {"nft-ip6": {"nat": {"chain": "CROSSNET-POSTROUTING",
                                                       "table_existed": False}}}
    assert nft_tables(sandbox, "ip6") == ["nat"]
    assert "CROSSNET" not in save(sandbox, "nft", "nat")   # no IPv4 source: no IPv4 chain
    assert sandbox.run_module("masquerade", {"state": "absent", "backend": "nft"})["changed"] is True
    assert nft_tables(sandbox, "ip6") == [] and state_file(sandbox) is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_foreign_ip6_chain_is_refused_before_either_family_changes(sandbox, backend):
    ip6t(sandbox, backend, "-t", "nat", "-N", "CROSSNET-POSTROUTING")
    ip6t(sandbox, backend, "-t", "nat", "-A", "CROSSNET-POSTROUTING", "-s", "fd99::/64", "-j", "ACCEPT")
    users6 = snapshot(sandbox, backend, ["nat"], family=6)
    args = dict(DUAL, backend=backend)
    for params, check in ((args, True), (args, False), ({"state": "absent", "backend": backend}, False)):
        refused = sandbox.run_module("masquerade", params, check=check)
        assert refused["failed"] is True, refused
        assert "ip6tables nat chain CROSSNET-POSTROUTING" in refused["msg"] and "adopt" in refused["msg"]
    assert snapshot(sandbox, backend, ["nat"], family=6) == users6
    assert "CROSSNET" not in save(sandbox, backend, "nat")   # the IPv4 side was not written either
    assert state_file(sandbox) is None
    # An IPv4-only run still refuses: the IPv6 chain of that name is not ours to remove.
    assert sandbox.run_module("masquerade", {"sources": ["10.0.0.1"], "backend": backend})["failed"] is True

    adopted = sandbox.run_module("masquerade", dict(args, adopt=True), diff=True)
    assert adopted["changed"] is True and adopted["rules6"] == RULES6
    assert "-A CROSSNET-POSTROUTING -s fd99::/64 -j ACCEPT" in adopted["diff"]["before"]
    assert ours(sandbox, backend, "nat", family=6) == [JUMP] + RULES6
    assert sandbox.run_module("masquerade", args)["changed"] is False
    assert sandbox.run_module("masquerade", {"state": "absent", "backend": backend})["changed"] is True
    assert "CROSSNET" not in save(sandbox, backend, "nat", family=6)


def test_host_without_ip6tables(sandbox, tmp_path):
    """An IPv4-only host without ip6tables works as before; an IPv6 source fails clearly and
    changes nothing."""
    scratch = tmp_path / "hide"
    scratch.mkdir()
    hide_ip6tables(sandbox, str(scratch))
    args = dict(ARGS, backend="nft")
    created = sandbox.run_module("masquerade", args, diff=True)
    assert created["failed"] is False, created
    assert created["changed"] is True and created["rules"] == RULES and created["rules6"] == []
    assert created["diff"]["after"] == "".join(line + "\n" for line in [JUMP] + RULES)
    assert sandbox.run_module("masquerade", args)["changed"] is False

    refused = sandbox.run_module("masquerade", dict(DUAL, backend="nft"))
    assert refused["failed"] is True
    assert "IPv6 sources needs ip6tables" in refused["msg"] and "ip6tables-nft-save" in refused["msg"]
    assert ours(sandbox, "nft", "nat") == [JUMP] + RULES
    assert sandbox.run_module("masquerade", {"state": "absent", "backend": "nft"})["changed"] is True
    assert state_file(sandbox) is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_ipv6_traffic_is_masqueraded_except_towards_excluded(sandbox, backend):
    with two_containers(sandbox, ipv6=True) as (left, right):
        sandbox.run(["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"], check=True)
        assert udp_source(sandbox, left, right, family=6) == left["ip6"]

        args = {"sources": [left["net"], left["net6"]], "backend": backend}
        assert sandbox.run_module("masquerade", args)["changed"] is True
        assert udp_source(sandbox, left, right, family=6) == right["host_ip6"]
        assert udp_source(sandbox, left, right) == right["host_ip"]

        excluded = dict(args, exclude=[right["net6"]])
        assert sandbox.run_module("masquerade", excluded)["changed"] is True
        assert udp_source(sandbox, left, right, family=6) == left["ip6"]
        assert udp_source(sandbox, left, right) == right["host_ip"]   # IPv4 not excluded

        assert sandbox.run_module("masquerade", {"state": "absent", "backend": backend})["changed"]
        assert udp_source(sandbox, left, right, family=6) == left["ip6"]
