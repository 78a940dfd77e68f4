# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""net.ipv4.ip_forward: the runtime value, its persisted file and the value it had before us."""

from __future__ import annotations

import os
import tempfile

from ansible_collections.crossnet.routed.plugins.module_utils import statefile

SYSCTL = "net.ipv4.ip_forward"
# /proc/sys/net belongs to the network namespace of the process that opens it.
PROC_PATH = "/proc/sys/net/ipv4/ip_forward"
DEFAULT_SYSCTL_FILE = "/etc/sysctl.d/60-crossnet.conf"
STATE_NAME = "forwarding.json"


def read_runtime(path=PROC_PATH):
    with open(path, encoding="ascii") as handle:
        return handle.read().strip()


def write_runtime(value, path=PROC_PATH):
    with open(path, "w", encoding="ascii") as handle:
        handle.write("%s\n" % value)


def sysctl_file_content():
    return ("# Managed by the crossnet.routed.forwarding module; state=absent removes this file.\n"
            "%s = 1\n" % SYSCTL)


def read_file(path):
    """The file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_file(path, content):
    """Replace ``path`` atomically with ``content``, mode 0644 (sysctl.d files are public)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove_file(path):
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def load_prior(state_dir):
    """The ip_forward value recorded before our first change, or None."""
    document = statefile.load(state_dir, STATE_NAME)
    if isinstance(document, dict) and str(document.get("ip_forward", "")) in ("0", "1"):
        return str(document["ip_forward"])
    return None


def save_prior(state_dir, value):
    statefile.save(state_dir, STATE_NAME, {"ip_forward": value})


def has_state(state_dir):
    return statefile.load(state_dir, STATE_NAME) is not None


def remove_state(state_dir):
    return statefile.remove(state_dir, STATE_NAME)


def plan(present, runtime, file_content, prior, state_exists):
    """What to do, as a dict of steps, given what is on the host now.

    ``prior`` is the recorded value (or None).  The prior value is recorded only together with
    a real change, and only once: a later run must not overwrite the value from before us.
    """
    if present:
        set_runtime = runtime != "1"
        write = file_content != sysctl_file_content()
        return {
            "record_prior": (set_runtime or write) and not state_exists,
            "set_runtime": "1" if set_runtime else None,
            "write_file": write,
            "remove_file": False,
            "remove_state": False,
        }
    return {
        "record_prior": False,
        "set_runtime": prior if prior is not None and runtime != prior else None,
        "write_file": False,
        "remove_file": file_content is not None,
        "remove_state": state_exists,
    }
