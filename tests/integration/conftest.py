# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the integration tests: a fake host (``sandbox``) per test, under both pyroute2s.

``sandbox`` is parametrised over the venv's python (PyPI pyroute2 0.9.x) and Debian's
/usr/bin/python3 (python3-pyroute2 0.7.2), so every test that uses it runs twice.
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sandbox import SYSTEM_PYTHON, VENV_PYTHON, Sandbox  # noqa: E402

INTERPRETERS = [
    pytest.param(VENV_PYTHON, id="venv-pyroute2-0.9"),
    pytest.param(SYSTEM_PYTHON, id="debian-pyroute2-0.7"),
]


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="integration tests need root (namespaces)")
        for item in items:
            if "sandbox" in getattr(item, "fixturenames", ()):
                item.add_marker(skip)


@pytest.fixture(params=INTERPRETERS)
def sandbox(request, tmp_path):
    """A started Sandbox; always torn down (holder killed, its namespaces gone)."""
    box = Sandbox(request.param, workdir=str(tmp_path))
    box.start()
    try:
        yield box
    finally:
        box.stop()
