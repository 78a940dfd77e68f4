# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""crossnet.routed.forwarding through Ansible in a sandbox, on both iptables backends.

The sandbox has its own network namespace (so its own ip_forward and rulesets) and private
/etc/sysctl.d and /var/lib/crossnet, so the default paths are the ones under test.
"""

from __future__ import annotations

import json
import os
import shutil

import netaddr
import pytest

from iptables_checks import (BACKENDS, first_rule, foreign, ipt, nft_tables, ours, save,
                             state_file, sysctl, two_containers, udp_source)

IP_FORWARD = "net.ipv4.ip_forward"
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


def test_bad_network_fails_clearly(sandbox):
    result = sandbox.run_module("forwarding", {"container_networks": ["10.0.0.0/8", "fd00::/8"]})
    assert result["failed"] is True and "fd00::/8" in result["msg"]
    assert sysctl(sandbox, IP_FORWARD) == "0" and read(sandbox, STATE_FILE) is None


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
