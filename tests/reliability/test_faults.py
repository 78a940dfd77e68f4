# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Faults: a host down when the play starts, a module SIGKILLed half-way through, two runs at
the same time against one host.  After each, a normal run converges every host to the same state
as an undisturbed converge (normalized snapshots) with traffic flowing."""

from __future__ import annotations

import os
import signal
import time

import pytest

from harness import read_events, wait_for

LAB_NAME = "xrfault"
TOPOLOGY = "faults.yml"
HOST1_CONTAINERS = 12
LOCK = "/run/lock/crossnet.host_network.lock"
PAUSED = "/tmp/xr-paused"
VENV_PYTHON = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           ".venv", "bin", "python")

# Runs every module of host1 through the real interpreter, but the first time a host-side veth
# ("cnr...") appears while a module runs, freezes that module (SIGSTOP) and writes to MARK either
# the number of veths made so far, after SIGKILLing it (kill), or its pid, leaving it frozen
# half-way through its changes and holding host1's lock for the test to thaw (pause).  Calls
# after that run normally.
WATCHER = r'''#!/usr/bin/python3
import os, select, signal, subprocess, sys, time
REAL = %(real)r
MARK = %(mark)r
KILL = %(kill)r
if os.path.exists(MARK):
    os.execv(REAL, [REAL] + sys.argv[1:])
monitor = subprocess.Popen(["ip", "monitor", "link"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
time.sleep(0.3)
child = subprocess.Popen([REAL] + sys.argv[1:])
while child.poll() is None:
    ready, _, _ = select.select([monitor.stdout], [], [], 0.05)
    if ready and " cnr" in monitor.stdout.readline():
        os.kill(child.pid, signal.SIGSTOP)
        if KILL:
            note = len([n for n in os.listdir("/sys/class/net") if n.startswith("cnr")])
            os.kill(child.pid, signal.SIGKILL)
        else:
            note = child.pid
        with open(MARK, "w") as handle:
            handle.write("%%d\n" %% note)
        break
monitor.kill()
code = child.wait()
sys.exit(code if code >= 0 else 128 - code)
'''
KILLER = {"real": VENV_PYTHON, "mark": "/tmp/xr-killed", "kill": True}
PAUSER = {"real": VENV_PYTHON, "mark": PAUSED, "kill": False}


def install(lab, host, path, text):
    lab.run(host, ["sh", "-c", 'cat > "$0" && chmod 0700 "$0"', path], input=text, check=True)
    return path


@pytest.fixture(scope="module")
def reference(lab):
    """Normalized snapshots of an undisturbed converge of this lab (then back to pristine)."""
    lab.reset()
    lab.converge(what="the reference converge")
    taken = lab.normalized()
    lab.reset()
    return taken


def assert_converged(lab, reference):
    left = lab.normalized_diff(reference)
    assert not left, "not converged to the plan:\n%s" % "\n".join("=== %s\n%s" % i for i in left.items())


def assert_traffic(lab):
    """k0 on host1 reaches c2 on host2 with its own source address."""
    seen = lab.seen_by("host2", "c2", [("host1", "k0", "10.41.1.1", "10.41.2.1")], "xr-traffic")
    assert seen == ["10.41.1.1"], "c2 did not receive k0's packets with k0's source: %r" % seen


def test_unreachable_host_does_not_block_the_others(fresh_lab, reference):
    lab = fresh_lab
    dead = {"host2": {"ansible_ssh_args": "-o ControlMaster=no -o ControlPath=none -o ProxyCommand=false"}}
    run = lab.playbook(overrides=dead)
    assert run.rc != 0, "a run with an unreachable host exited 0: %s" % run.describe()
    assert run.recap.get("host2", {}).get("unreachable", 0) >= 1, run.describe()
    assert "UNREACHABLE" in run.output, run.describe()
    assert run.recap.get("host1", {}).get("failed", 1) == 0, "host1 did not converge: %s" % run.describe()
    now = lab.normalized()
    assert now["host1"] == reference["host1"], "host1 did not converge while host2 was down"

    back = lab.playbook()
    assert back.rc == 0, "the run with host2 back failed: %s" % back.describe()
    assert not back.changed_tasks("host1"), "host1 changed again: %s" % back.changed_tasks("host1")
    assert_converged(lab, reference)
    assert_traffic(lab)


def test_unreachable_host_with_facts_derived_node_address(fresh_lab, reference):
    """As above, but the down host's node address comes from its facts (which are missing)."""
    lab = fresh_lab
    overrides = {"host1": {"crossnet_node_address": None},
                 "host2": {"crossnet_node_address": None,
                           "ansible_ssh_args": "-o ControlMaster=no -o ControlPath=none -o ProxyCommand=false"}}
    run = lab.playbook(overrides=overrides)
    assert run.rc != 0, run.describe()
    assert run.recap.get("host2", {}).get("unreachable", 0) >= 1, run.describe()
    assert run.recap.get("host1", {}).get("failed", 1) == 0, "host1 did not converge: %s" % run.describe()
    assert lab.normalized()["host1"] == reference["host1"], "host1 did not converge while host2 was down"


def lock_held(lab, host="host1"):
    return lab.run(host, ["flock", "--nonblock", LOCK, "true"]).returncode != 0


def test_module_killed_mid_apply_is_repaired_by_next_run(fresh_lab, reference):
    lab = fresh_lab
    lab.run("host1", ["rm", "-f", "/tmp/xr-killed"], check=True)
    killer = install(lab, "host1", "/tmp/xr-killer-python", WATCHER % KILLER)
    try:
        run = lab.playbook(overrides={"host1": {"ansible_python_interpreter": killer}})
        made = lab.run("host1", ["cat", "/tmp/xr-killed"]).stdout.strip()
        assert made, "the host_network module was never killed: %s" % run.describe()
        assert 1 <= int(made) < HOST1_CONTAINERS, "killed after %s of %d pairs: not mid-apply" % (
            made, HOST1_CONTAINERS)
        assert run.rc != 0, run.describe()
        failed = [e for e in run.tasks(host="host1") if e["status"] == "failed"]
        assert [e["action"].split(".")[-1] for e in failed] == ["host_network"], run.describe()
        assert not lock_held(lab), "the killed run left host1 locked"

        repair = lab.playbook()
        assert repair.rc == 0, "the run after the kill failed: %s" % repair.describe()
        assert_converged(lab, reference)
        assert_traffic(lab)
    except AssertionError:
        lab.rebuild()  # what the bug left behind must not fail the cases after this one
        raise


def start_paused_run(lab, tag):
    """A run whose host_network on host1 is frozen half-way, holding host1's lock: (handle, pid)."""
    lab.run("host1", ["rm", "-f", PAUSED], check=True)
    pauser = install(lab, "host1", "/tmp/xr-pauser-python", WATCHER % PAUSER)
    first = lab.start_playbook(overrides={"host1": {"ansible_python_interpreter": pauser}}, tag=tag)

    def paused_pid():
        return lab.run("host1", ["cat", PAUSED]).stdout.strip()

    pid = wait_for(paused_pid, timeout=120)
    if not pid:
        lab.finish(first)
        raise AssertionError("the first run never reached host1's veths")
    assert pid.isdigit(), "not a pid: %r" % pid
    assert lock_held(lab), "the frozen module does not hold host1's lock"
    return first, pid


def settled(lab, timeout=20):
    """The lab's normalized snapshots once two taken a second apart agree."""
    last = lab.normalized()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(1)
        now = lab.normalized()
        if now == last:
            return now
        last = now
    raise AssertionError("the lab did not settle in %d s" % timeout)


def thaw(lab, pid):
    lab.run("host1", ["kill", "-CONT", pid])


def test_two_runs_at_once_are_kept_apart(fresh_lab, reference):
    lab = fresh_lab
    first, pid = start_paused_run(lab, "first")
    try:
        holder = lab.run("host1", ["cat", LOCK], check=True).stdout
        frozen = settled(lab)  # the kernel finishes what the frozen module asked for
        second = lab.playbook(extra_vars={"crossnet_lock_timeout": 3})
        changed = {h: d for h, d in lab.normalized_diff(frozen).items() if h == "host1"}
    finally:
        thaw(lab, pid)
        first_run = lab.finish(first)
    assert first_run.rc == 0, "the first run failed: %s" % first_run.describe()
    assert second.rc != 0, "the second run did not wait for the lock: %s" % second.describe()
    failed = [e for e in second.tasks(host="host1") if e["status"] == "failed"]
    assert [e["action"].split(".")[-1] for e in failed] == ["host_network"], second.describe()
    owner = __import__("json").loads(holder)["owner"]
    assert "another crossnet run" in failed[0]["msg"] and owner in failed[0]["msg"], failed[0]["msg"]
    assert not changed, "the second run changed host1 while the first held its lock:\n%s" % changed
    assert_converged(lab, reference)


def test_a_waiting_run_goes_on_after_the_first(fresh_lab, reference):
    lab = fresh_lab
    first, pid = start_paused_run(lab, "holder")
    try:
        second = lab.start_playbook(extra_vars={"crossnet_lock_timeout": 240}, tag="waiter")
        # the second run's preflight passed on host1: its next remote task waits for the lock
        assert wait_for(lambda: any(e["host"] == "host1" and e["action"].split(".")[-1] == "preflight"
                                    for e in read_events(second[1])), timeout=120), "the second run stalled"
        time.sleep(3)
        waiting = second[2].poll() is None and lock_held(lab)
        thaw(lab, pid)
        first_run = lab.finish(first)
        second_run = lab.finish(second)
    finally:
        thaw(lab, pid)
    assert first_run.rc == 0, first_run.describe()
    assert waiting, "the second run was not waiting for host1's lock when the first went on"
    assert second_run.rc == 0, "the waiting run failed: %s" % second_run.describe()
    assert not second_run.changed_tasks("host1"), "the waiting run found work the first had done"
    assert_converged(lab, reference)


def test_run_of_a_killed_controller_does_not_block(fresh_lab, reference):
    lab = fresh_lab
    first, pid = start_paused_run(lab, "killed")
    os.killpg(first[2].pid, signal.SIGKILL)
    lab.finish(first)
    thaw(lab, pid)  # whatever became of the frozen module, it ends and the kernel drops its lock
    try:
        run = lab.playbook(extra_vars={"crossnet_lock_timeout": 60})
        assert run.rc == 0, run.describe()
        assert_converged(lab, reference)
    except AssertionError:
        lab.rebuild()
        raise


@pytest.mark.teardown
def test_teardown_after_faults_restores_pristine(lab):
    lab.playbook()  # whatever the cases left, converged first
    run = lab.teardown()
    assert run.rc == 0, run.describe()
    lab.assert_unchanged_since(lab.pristine, "the faults, a converge and teardown")
