# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the reliability suite: one lab per test module, always torn down.

A test module names its lab and topology::

    LAB_NAME = "xrbad"                 # unique on the machine: labs live in /run/crossnet-lab/NAME
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


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="the reliability suite needs root (lab namespaces)")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    name = getattr(request.module, "LAB_NAME")
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


# -- per-group summary ---------------------------------------------------------------------------
_OUTCOME_RANK = ("error", "failed", "xpassed", "xfailed", "skipped", "passed")


def _group(nodeid):
    module = nodeid.split("::")[0]
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
            if current is None or _OUTCOME_RANK.index(outcome) < _OUTCOME_RANK.index(current):
                outcomes[report.nodeid] = outcome
    if not outcomes:
        return
    groups = collections.OrderedDict()
    for nodeid, outcome in sorted(outcomes.items()):
        groups.setdefault(_group(nodeid), collections.Counter())[outcome] += 1
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
