# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make ``ansible_collections.crossnet.routed`` importable from the checkout."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

try:
    import ansible_collections.crossnet.routed  # noqa: F401
except ImportError:
    _root = tempfile.mkdtemp(prefix="crossnet-unit-")
    atexit.register(shutil.rmtree, _root, True)
    os.makedirs(os.path.join(_root, "ansible_collections", "crossnet"))
    os.symlink(REPO, os.path.join(_root, "ansible_collections", "crossnet", "routed"))
    sys.path.insert(0, _root)
