# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""crossnet.routed.masquerade through Ansible in a sandbox, on both iptables backends."""

from __future__ import annotations

import pytest

from iptables_checks import (BACKENDS, first_rule, foreign, ipt, nft_tables, ours, save,
                             state_file, two_containers, udp_source)

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
    ({"sources": ["fd00::/64"]}, "not an IPv4"),
    ({"exclude": ["10/8"]}, "not an IPv4"),
    ({"sources": ["10.0.0.1"], "out_interface": "a-very-long-interface-name"}, "out_interface"),
])
def test_bad_arguments_fail_clearly(sandbox, args, message):
    result = sandbox.run_module("masquerade", args)
    assert result["failed"] is True and message in result["msg"]
    assert "CROSSNET" not in save(sandbox, "nft", "nat")


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
    assert sandbox.run_module("masquerade", {"state": "absent", "backend": "legacy"})["changed"]
    assert state_file(sandbox) is None
    assert "CROSSNET" not in save(sandbox, "legacy", "nat")
