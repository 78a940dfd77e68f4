# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the lab's own tests: labs with unique names, always taken down."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "lab"))

from labkit import core  # noqa: E402

# Two segments: host1 is on both, host2 on "lan" only, the outside node on "wan" only.
TOPOLOGY = """\
---
segments: [lan, wan]
vars: {crossnet_manage_packages: false}
hosts:
  host1:
    python: venv
    links:
      - {segment: lan, ifname: eth0, address: 10.77.0.1/24}
      - {segment: wan, ifname: eth1, address: 10.78.0.1/24}
  host2:
    python: system
    links:
      - {segment: lan, ifname: eth0, address: 10.77.0.2/24}
outside:
  outside:
    links:
      - {segment: wan, ifname: eth0, address: 10.78.0.10/24}
"""


def machine_state():
    """What a lab must never change in the machine's own network namespace: ip_forward, the
    addresses, the routes of both families, the links."""
    with open("/proc/sys/net/ipv4/ip_forward", encoding="utf-8") as handle:
        forward = handle.read().strip()
    show = [subprocess.run(["ip", "-o"] + argv, capture_output=True, text=True, check=True).stdout
            for argv in (["addr", "show"], ["-4", "route", "show", "table", "all"],
                         ["-6", "route", "show", "table", "all"], ["link", "show"])]
    return forward, show


def lab_leftovers(lab):
    """(its namespaces, its processes, whether its directory exists): all empty once it is down."""
    return [ns for ns in core.list_netns() if ns.startswith(lab.prefix)], lab.processes(), os.path.exists(lab.dir)


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="the lab needs root (namespaces, mounts)")
        for item in items:
            item.add_marker(skip)


def lab_name(tag):
    return "t%s%d" % (tag, os.getpid() % 100000)


@pytest.fixture(scope="session")
def topology_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("lab") / "two_segments.yml"
    path.write_text(TOPOLOGY, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def lab(topology_file):
    """A running lab shared by the tests of one module; always taken down."""
    the_lab = core.Lab(lab_name("m"))
    try:
        the_lab.up(topology_file)
        yield the_lab
    finally:
        the_lab.down()


@pytest.fixture
def fresh_lab(topology_file):
    """A lab name for one test (not started); taken down afterwards whatever happened."""
    the_lab = core.Lab(lab_name("f"))
    try:
        yield the_lab
    finally:
        the_lab.down()
