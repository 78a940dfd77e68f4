# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the reliability suite: one lab per test module, always torn down.

A test module names its lab and topology::

    LAB_NAME = "xrbad"                 # + 3 hex digits of the pid: labs live in /run/crossnet-lab/NAME
    TOPOLOGY = "two_hosts.yml"         # under tests/reliability/topologies/

and uses ``lab`` (module scope, a harness.ReliabilityLab that is up and has its pristine snapshot)
and ``fresh_lab`` (the same lab, reset to pristine before the case).

The terminal summary prints, per group (test module), how many cases ran and passed.
"""

from __future__ import annotations

import collections
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


GROUP_MARKERS = ("teardown", "security")


def pytest_configure(config):
    for marker in GROUP_MARKERS:
        config.addinivalue_line("markers", "%s: counted in the %s group of the summary" % (marker, marker))


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="the reliability suite needs root (lab namespaces)")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    # The pid suffix keeps two sessions of this suite (two engineers, CI) out of each other's labs.
    name = "%s%03x" % (getattr(request.module, "LAB_NAME"), os.getpid() % 0x1000)
    topology = getattr(request.module, "TOPOLOGY")
    workdir = str(tmp_path_factory.mktemp(name))
    handle = harness.ReliabilityLab(name, topology, workdir)
    request.addfinalizer(handle.down)  # registered first: runs even when up() fails half-way
    handle.up()
    return handle


@pytest.fixture
def fresh_lab(lab):
    lab.reset()
    return lab


@pytest.fixture
def converged_lab(lab):
    """The lab with site.yml applied (default inventory); ``lab.converged`` holds the normalized
    snapshots of that state, taken once per lab."""
    reference = getattr(lab, "converged", None)
    if reference is None:
        lab.reset()
        lab.converge(what="converging the lab before the first case")
        lab.converged = lab.normalized()
        return lab
    if not lab.normalized_diff(reference):
        return lab
    lab.converge(what="converging the lab before the case")
    if lab.normalized_diff(reference):
        lab.reset()
        lab.converge(what="converging the lab from scratch before the case")
        lab.converged = lab.normalized()
    return lab


# -- per-group summary ---------------------------------------------------------------------------
_OUTCOME_RANK = ("error", "failed", "xpassed", "xfailed", "skipped", "passed")


def _group(report):
    """The group of a case: its group marker if it has one, else its module (test_X.py -> X)."""
    for marker in GROUP_MARKERS:
        if marker in report.keywords:
            return marker
    module = report.nodeid.split("::")[0]
    name = os.path.splitext(os.path.basename(module))[0]
    return name[len("test_"):] if name.startswith("test_") else name


def _outcome(report):
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.when != "call" and report.failed:
        return "error"
    return report.outcome


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    outcomes = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if not hasattr(report, "nodeid") or not hasattr(report, "when"):
                continue
            if "tests/reliability/" not in "/" + report.nodeid and not report.nodeid.startswith("test_"):
                continue
            outcome = _outcome(report)
            if report.when != "call" and outcome == "passed":
                continue
            current = outcomes.get(report.nodeid)
            if current is None or _OUTCOME_RANK.index(outcome) < _OUTCOME_RANK.index(current[0]):
                outcomes[report.nodeid] = (outcome, _group(report))
    if not outcomes:
        return
    groups = collections.OrderedDict()
    for nodeid, (outcome, group) in sorted(outcomes.items()):
        groups.setdefault(group, collections.Counter())[outcome] += 1
    terminalreporter.section("reliability cases per group")
    total = collections.Counter()
    for name, counts in groups.items():
        total.update(counts)
        terminalreporter.write_line(_line(name, counts))
    terminalreporter.write_line(_line("ALL", total))


def _line(name, counts):
    ran = sum(counts[k] for k in ("passed", "failed", "error", "xfailed", "xpassed"))
    extra = ", ".join("%d %s" % (counts[k], k) for k in ("xfailed", "xpassed", "failed", "error", "skipped")
                      if counts[k])
    return "%-14s %3d ran, %3d passed%s" % (name, ran, counts["passed"], " (" + extra + ")" if extra else "")
