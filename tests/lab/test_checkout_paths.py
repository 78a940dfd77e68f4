# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""README command 1 from a checkout the lab's hosts would not see by themselves: under /tmp
(every host gets a fresh /tmp), at a path with a blank, reached through a symlink.  README
command 2 refuses a path with a blank at once (not tried from one)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from conftest import REPO, lab_name
from labkit import core


def copy_of_this_checkout(parent):
    """The files git knows (committed or not, not ignored) copied under ``parent``; .venv is
    this checkout's, linked (bootstrap.sh then finds it up to date and installs nothing)."""
    listed = subprocess.run(["git", "-C", REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.split(b"\0")
    clone = os.path.join(parent, "crossnet")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = os.path.join(REPO, name)
        if not os.path.isfile(source):
            continue  # deleted in the working tree
        target = os.path.join(clone, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(source, target)
    os.symlink(os.path.join(REPO, ".venv"), os.path.join(clone, ".venv"))
    return clone


def test_the_demo_runs_from_a_checkout_under_tmp_with_a_blank_reached_through_a_symlink():
    parent = tempfile.mkdtemp(prefix="crossnet checkout-", dir="/tmp")
    lab = core.Lab(lab_name("co"))
    try:
        clone = copy_of_this_checkout(parent)
        entry = os.path.join(parent, "via-link")
        os.symlink(clone, entry)
        proc = subprocess.run(["bash", os.path.join(entry, "scripts", "demo.sh")], capture_output=True, text=True,
                              env=dict(os.environ, CROSSNET_DEMO_LAB=lab.name), timeout=600, check=False)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-4000:]
        # Both hosts converged, host1 on the checkout's .venv (the seed lab's `python: venv`).
        assert "host1                      : ok=" in output and "failed=0" in output, output[-4000:]
        assert "paths as expected" in output and "FAIL" not in output, output[-4000:]
    finally:
        lab.down()
        shutil.rmtree(parent, ignore_errors=True)
    assert not os.path.exists(lab.dir)


def test_the_test_suite_refuses_a_path_with_a_blank_before_anything_is_done():
    parent = tempfile.mkdtemp(prefix="crossnet checkout ", dir="/tmp")
    try:
        entry = os.path.join(parent, "repo")
        os.symlink(REPO, entry)
        proc = subprocess.run(["bash", os.path.join(entry, "scripts", "test.sh"), "unit"], capture_output=True,
                              text=True, timeout=60, check=False)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "holds a blank; run the test suite from a checkout whose path has none" in proc.stderr
        assert proc.stdout == ""  # not even the bootstrap ran
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def test_a_venv_elsewhere_under_tmp_stays_reachable_on_the_hosts(tmp_path):
    """A checkout whose .venv links to a venv of its own elsewhere under /tmp (the test above
    makes one when this checkout is itself under /tmp): both are bound back into every host."""
    from labkit import holder
    repo, venv = tempfile.mkdtemp(dir="/tmp"), tempfile.mkdtemp(dir="/tmp")
    try:
        assert holder.to_keep("/run/crossnet-lab/x", repo, venv) == ["/run/crossnet-lab/x", repo, venv]
        inner = os.path.join(repo, ".venv")
        os.mkdir(inner)
        assert holder.to_keep("/run/crossnet-lab/x", repo, inner) == ["/run/crossnet-lab/x", repo]
        assert holder.to_keep("/run/crossnet-lab/x", "/work/elsewhere", str(tmp_path)) == \
            ["/run/crossnet-lab/x"] + ([str(tmp_path)] if holder.covered(str(tmp_path)) else [])
    finally:
        shutil.rmtree(repo)
        shutil.rmtree(venv)
