# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make ``ansible_collections.crossnet.routed`` importable when pytest runs from the repo.

The repo root is the collection root, so a symlink under the git-ignored tests/output/ gives
Python the ``ansible_collections/crossnet/routed`` path it imports from.
"""

from __future__ import annotations

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, "tests", "output", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "crossnet", "routed")

if not os.path.lexists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    try:
        os.symlink(REPO, LINK)
    except FileExistsError:  # another test run made it meanwhile
        pass
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
