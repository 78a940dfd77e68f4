# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run_lock action plugin through ansible-playbook (local connection, a lease under tmp):
it records this run's controller process, breaks the lease of a run whose controller is gone and
keeps waiting for, then names, a live one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest
import yaml

from test_plan import ROOT  # also makes the collection importable

from ansible_collections.crossnet.routed.plugins.module_utils import runlock  # noqa: E402

ANSIBLE_PLAYBOOK = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")


def take_lease(tmp_path, owner="new-run", timeout=10):
    """Run a play that takes the lease; returns (rc, output, pid of ansible-playbook, seconds)."""
    lock = str(tmp_path / "crossnet.lock")
    play = [{"name": "lease", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "take the lease", "crossnet.routed.run_lock": {"owner": owner, "timeout": timeout, "path": lock}}]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "tests", "output", "collections"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    argv = [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml")]
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    output, dummy = proc.communicate(timeout=120)
    return proc.returncode, output, proc.pid, time.monotonic() - started


def leave_lease(tmp_path, owner, controller):
    lease = {"owner": owner, "expires": time.time() + 1800, "controller": controller}
    (tmp_path / "crossnet.lock").write_text(json.dumps(lease))


@pytest.fixture
def sleeper():
    """A live process standing for another run's controller on this machine."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait()


def dead_controller(host=None):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    identity = runlock.process_identity(proc.pid)
    proc.wait()
    identity["host"] = host or socket.gethostname()
    return identity


def test_the_lease_records_this_runs_controller(tmp_path):
    rc, output, pid, dummy = take_lease(tmp_path)
    assert rc == 0, output
    lease = runlock.read(str(tmp_path / "crossnet.lock"))
    assert lease["owner"] == "new-run"
    assert lease["controller"]["host"] == socket.gethostname()
    assert lease["controller"]["pid"] == pid  # ansible-playbook itself, not a worker or module
    assert lease["controller"]["started"] and lease["controller"]["boot_id"]
    assert runlock.process_gone(lease["controller"])  # that run has ended


def test_a_dead_runs_lease_is_broken_at_once(tmp_path):
    leave_lease(tmp_path, "dead-run", dead_controller())
    rc, output, dummy, seconds = take_lease(tmp_path, timeout=60)
    assert rc == 0, output
    assert "broke the crossnet lease of run 'dead-run'" in output
    assert runlock.read(str(tmp_path / "crossnet.lock"))["owner"] == "new-run"
    assert seconds < 30, "it waited for the dead run's lease"


def test_a_live_runs_lease_blocks_and_is_named(tmp_path, sleeper):
    controller = dict(runlock.process_identity(sleeper.pid), host=socket.gethostname())
    leave_lease(tmp_path, "live-run", controller)
    rc, output, dummy, dummy = take_lease(tmp_path, timeout=2)
    assert rc != 0, output
    assert "another crossnet run holds this host: run 'live-run' (controller %s pid %d" % (
        socket.gethostname(), sleeper.pid) in output
    assert "waited 2 s" in output
    assert runlock.read(str(tmp_path / "crossnet.lock"))["owner"] == "live-run"


def test_a_lease_from_another_controller_is_never_broken(tmp_path):
    leave_lease(tmp_path, "remote-run", dead_controller(host="some-other-controller"))
    rc, output, dummy, dummy = take_lease(tmp_path, timeout=1)
    assert rc != 0, output
    assert "run 'remote-run' (controller some-other-controller" in output
    assert runlock.read(str(tmp_path / "crossnet.lock"))["owner"] == "remote-run"
