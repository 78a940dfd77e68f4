# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fake host really is separate from the machine running the tests."""

from __future__ import annotations

import os
import subprocess

from sandbox import PRIVATE_DIRS, Sandbox, SYSTEM_PYTHON


def _host_netns():
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout


def test_private_dirs_and_netns_vanish_with_holder(tmp_path):
    box = Sandbox(SYSTEM_PYTHON, workdir=str(tmp_path)).start()
    try:
        assert box.run(["ip", "netns", "add", "cnt1-probe"]).returncode == 0
        assert "cnt1-probe" in box.run(["ip", "netns", "list"]).stdout
        assert "cnt1-probe" not in _host_netns()
        for path in PRIVATE_DIRS:
            probe = os.path.join(path, "cnt1-probe-file")
            assert box.run(["touch", probe]).returncode == 0
            assert not os.path.exists(probe)
        links = box.run(["ip", "-o", "link", "show"]).stdout.splitlines()
        assert len(links) == 1 and "lo:" in links[0] and "UP" in links[0]
    finally:
        box.stop()
    assert "cnt1-probe" not in _host_netns()


def test_run_module_goes_through_ansible_inside(sandbox):
    sandbox.run(["ip", "link", "add", "cnt1-a", "type", "veth", "peer", "name", "cnt1-b"], check=True)
    result = sandbox.run_module("ansible.builtin.command", {"argv": ["ip", "-o", "link", "show", "cnt1-a"]})
    assert result["failed"] is False and "cnt1-a" in result["stdout"]
    failed = sandbox.run_module("ansible.builtin.command", {"argv": ["false"]})
    assert failed["failed"] is True
