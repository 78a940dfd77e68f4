# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The package step (crossnet_manage_packages) on the role's default path, and where it must
still run.

The lab's hosts share the machine's packages (scripts/bootstrap.sh installs python3-pyroute2,
python3-netaddr, iptables and nftables), so with crossnet_manage_packages=true and Ansible's
defaults (no pipelining) a run must not learn the OS family (setup) nor start the package
manager: network_facts, which runs anyway, says that nothing is missing.  A host whose modules'
Python cannot import pyroute2 (a stand-in on its PYTHONPATH) must still be noticed, also by a play
that gathered its own facts (the role then skips its facts task).
"""

from __future__ import annotations

import json
import os
import subprocess

import harness

LAB_NAME = "pkstep"
TOPOLOGY = "two_hosts.yml"

# Ansible's default, no pipelining: the lab's inventory turns it on with a host variable, which
# only an extra variable overrides.
MANAGED = {"crossnet_manage_packages": True, "ansible_pipelining": False}
INCLUDE = "Provide what the host lacks"
CHECK = "Gather the network facts the plan needs and learn what the host lacks"
NO_PYROUTE2 = "/tmp/pk-python-without-pyroute2"


def _package_step(run):
    """Events of the tasks the package step is made of (setup, package manager)."""
    return [e for e in run.events if e["action"].split(".")[-1] in ("setup", "package", "apt", "dnf", "yum")]


def _by_task(run, name):
    return {e["host"]: e["status"] for e in run.events if e["task"].endswith(name)}


def _assert_package_step_skipped(run, lab, what):
    assert run.rc == 0, "%s failed: %s" % (what, run.describe())
    assert _package_step_skipped(run, lab), "%s: %s" % (what, run.describe())


def _package_step_skipped(run, lab):
    return not _package_step(run) and _by_task(run, INCLUDE) == {host: "skipped" for host in lab.hosts}


def test_default_path_runs_neither_setup_nor_the_package_manager(fresh_lab):
    lab = fresh_lab
    converge = lab.playbook(extra_vars=MANAGED)
    _assert_package_step_skipped(converge, lab, "the first converge")
    # Facts and the requirement check in one module run per host, no second check.
    assert sorted((e["host"], e["status"]) for e in converge.tasks("network_facts")) == [
        (host, "ok") for host in sorted(lab.hosts)]
    assert _by_task(converge, CHECK) == {host: "ok" for host in lab.hosts}

    rerun = lab.playbook(extra_vars=MANAGED)
    _assert_package_step_skipped(rerun, lab, "the re-run")
    assert all(r["changed"] == 0 for r in rerun.recap.values()), rerun.describe()

    checked = lab.playbook(extra_vars=MANAGED, check=True)
    _assert_package_step_skipped(checked, lab, "the re-run in check mode")
    assert all(r["changed"] == 0 for r in checked.recap.values()), checked.describe()

    # Teardown gathers no facts: the same task only checks, and again no package step.
    teardown = lab.playbook(extra_vars=dict(MANAGED, crossnet_state="absent"))
    _assert_package_step_skipped(teardown, lab, "the teardown")
    assert _by_task(teardown, CHECK) == {host: "ok" for host in lab.hosts}
    lab.assert_unchanged_since(lab.pristine, "converge + teardown")


def _without_pyroute2(lab, host):
    """An interpreter on ``host`` (its /tmp is its own) that cannot import pyroute2."""
    python = lab.topo.hosts[[node.name for node in lab.topo.hosts].index(host)].python
    script = ("mkdir -p /tmp/pk-shim/pyroute2 && "
              "echo 'raise ImportError(\"no pyroute2 on this host\")' > /tmp/pk-shim/pyroute2/__init__.py && "
              "printf '#!/bin/sh\\nPYTHONPATH=/tmp/pk-shim exec %s \"$@\"\\n' > {0} && chmod 755 {0}").format(NO_PYROUTE2)
    lab.run(host, ["sh", "-c", script % python], check=True)
    return {host: {"ansible_python_interpreter": NO_PYROUTE2}}


def _gathering_play(lab, overrides, extra_vars, tag):
    """A play with gather_facts: true (the role then skips its own facts task), on host1 only."""
    playbook = os.path.join(lab.workdir, "gathering-%s.yml" % tag)
    with open(playbook, "w", encoding="utf-8") as handle:
        json.dump([{"hosts": "crossnet_hosts", "gather_facts": True,
                    "roles": [{"role": "crossnet.routed.container_network"}]}], handle)
    argv, events = lab.playbook_argv(overrides=overrides, extra_vars=extra_vars, tag=tag)
    argv[-1:] = ["--limit", "host1", playbook]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=lab.workdir,
                          env=lab.env(events), timeout=harness.PLAYBOOK_TIMEOUT, check=False)
    return harness.Run(argv, proc.returncode, proc.stdout, proc.stderr, harness.read_events(events))


def test_a_play_that_gathered_facts_still_learns_what_is_missing(fresh_lab):
    lab = fresh_lab
    overrides = _without_pyroute2(lab, "host1")

    unmanaged = _gathering_play(lab, overrides, dict(MANAGED, crossnet_manage_packages=False), "unmanaged")
    assert unmanaged.rc != 0, unmanaged.describe()
    assert _by_task(unmanaged, CHECK) == {"host1": "ok"}
    failed = [e for e in unmanaged.events if e["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["msg"].startswith("host1 lacks pyroute2;"), unmanaged.describe()
    assert not [e for e in _package_step(unmanaged) if e["task"] != "Gathering Facts"], unmanaged.describe()

    # Managed: the package manager runs (the packages are there, so it changes nothing), and
    # the check after it still finds no pyroute2 for this interpreter, and says so.
    managed = _gathering_play(lab, overrides, MANAGED, "managed")
    assert managed.rc != 0, managed.describe()
    assert _by_task(managed, INCLUDE) == {"host1": "ok"}
    package = [e for e in managed.events if e["action"].split(".")[-1] == "package"]
    assert [(e["host"], e["status"], e["changed"]) for e in package] == [("host1", "ok", False)], managed.describe()
    failed = [e for e in managed.events if e["status"] == "failed"]
    assert len(failed) == 1 and "host1 still lacks pyroute2 after installing" in failed[0]["msg"], managed.describe()
    lab.assert_unchanged_since(lab.pristine, "the failed runs")


def test_teardown_of_a_host_without_pyroute2_stops_before_the_teardown(fresh_lab):
    lab = fresh_lab
    overrides = _without_pyroute2(lab, "host2")
    run = lab.playbook(overrides=overrides, extra_vars=dict(MANAGED, crossnet_state="absent", crossnet_manage_packages=False))
    assert run.rc != 0, run.describe()
    failed = [e for e in run.events if e["status"] == "failed"]
    assert [(e["host"], e["msg"].split(";")[0]) for e in failed] == [("host2", "host2 lacks pyroute2")], run.describe()
    assert not _package_step(run)
