# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parts of module_utils/forwarding.py: the step plan, the file and the prior value."""

from __future__ import annotations

import os
import stat

from ansible_collections.crossnet.routed.plugins.module_utils import forwarding

GOOD = forwarding.sysctl_file_content()


def test_sysctl_file_sets_ip_forward():
    assert "\nnet.ipv4.ip_forward = 1\n" in GOOD


def test_present_from_scratch_records_prior_then_changes():
    assert forwarding.plan(True, "0", None, None, False) == {
        "record_prior": True, "set_runtime": "1", "write_file": True,
        "remove_file": False, "remove_state": False}


def test_present_converged_does_nothing():
    steps = forwarding.plan(True, "1", GOOD, "0", True)
    assert not any(steps.values())


def test_present_converged_without_state_does_not_invent_one():
    # ip_forward was already 1 and the file is right: nothing to undo, nothing to record.
    assert not any(forwarding.plan(True, "1", GOOD, None, False).values())


def test_present_never_overwrites_the_recorded_prior():
    steps = forwarding.plan(True, "0", GOOD, "0", True)   # someone reset it by hand
    assert steps["set_runtime"] == "1" and not steps["record_prior"]


def test_present_rewrites_an_edited_file():
    steps = forwarding.plan(True, "1", "net.ipv4.ip_forward = 0\n", None, False)
    assert steps["write_file"] and steps["record_prior"] and steps["set_runtime"] is None


def test_absent_restores_prior_and_removes_file_and_state():
    assert forwarding.plan(False, "1", GOOD, "0", True) == {
        "record_prior": False, "set_runtime": "0", "write_file": False,
        "remove_file": True, "remove_state": True}


def test_absent_keeps_runtime_it_never_changed():
    steps = forwarding.plan(False, "1", None, None, False)
    assert not any(steps.values())


def test_absent_prior_one_leaves_runtime():
    steps = forwarding.plan(False, "1", GOOD, "1", True)
    assert steps["set_runtime"] is None and steps["remove_file"] and steps["remove_state"]


def test_prior_round_trip(tmp_path):
    state_dir = str(tmp_path / "state")
    assert forwarding.load_prior(state_dir) is None and not forwarding.has_state(state_dir)
    forwarding.save_prior(state_dir, "0")
    assert forwarding.load_prior(state_dir) == "0" and forwarding.has_state(state_dir)
    assert stat.S_IMODE(os.stat(os.path.join(state_dir, forwarding.STATE_NAME)).st_mode) == 0o600
    assert forwarding.remove_state(state_dir) and not forwarding.remove_state(state_dir)


def test_file_write_and_remove(tmp_path):
    path = str(tmp_path / "sysctl.d" / "60-crossnet.conf")
    assert forwarding.read_file(path) is None
    forwarding.write_file(path, GOOD)
    assert forwarding.read_file(path) == GOOD
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert os.listdir(os.path.dirname(path)) == ["60-crossnet.conf"]
    assert forwarding.remove_file(path) and not forwarding.remove_file(path)


def test_runtime_read_write(tmp_path):
    path = str(tmp_path / "ip_forward")
    forwarding.write_runtime("1", path)
    assert forwarding.read_runtime(path) == "1"
