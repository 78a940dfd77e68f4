# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small JSON state files under the collection's state directory (root-only, written atomically)."""

from __future__ import annotations

import json
import os
import tempfile

DEFAULT_STATE_DIR = "/var/lib/crossnet"


def load(state_dir, name, default=None):
    """Return the JSON document ``state_dir/name``, or ``default`` when it does not exist."""
    try:
        with open(os.path.join(state_dir, name), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


def save(state_dir, name, document):
    """Write ``document`` to ``state_dir/name`` atomically, mode 0600 in a 0700 directory."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=".%s." % name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, os.path.join(state_dir, name))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove(state_dir, name):
    """Delete ``state_dir/name`` if it exists, and ``state_dir`` once it is empty.

    Returns whether the file existed.
    """
    try:
        os.unlink(os.path.join(state_dir, name))
    except FileNotFoundError:
        return False
    try:
        os.rmdir(state_dir)
    except OSError:  # not empty: another state file still lives there
        pass
    return True
