# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An exclusive lock on the host for the length of one module run (flock(2) on a file).

The kernel drops the lock when the process ends, however it ends, so a killed run never leaves
it behind.  While held, the file names its holder, for the message of a run that has to wait.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager

DEFAULT_PATH = "/run/lock/crossnet.host_network.lock"
POLL = 0.2


class Busy(Exception):
    """Another run held the lock for the whole timeout; ``holder`` is what it wrote, or {}."""

    def __init__(self, holder, waited):
        super().__init__(holder, waited)
        self.holder = holder
        self.waited = waited


def _holder(fd):
    try:
        return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except ValueError:
        return {}


class Unusable(Exception):
    """The lock file cannot be created or opened."""


@contextmanager
def held(path, timeout, owner=None):
    """Hold the lock at ``path`` for the body; wait up to ``timeout`` seconds, then raise Busy."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise Unusable("cannot open the lock file %s: %s" % (path, exc)) from exc
    try:
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - start
                if waited >= timeout:
                    raise Busy(_holder(fd), waited) from None
                time.sleep(POLL)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"owner": owner, "pid": os.getpid(), "since": int(time.time())}).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


def describe(busy):
    holder = busy.holder
    return "another crossnet run holds this host (owner %s, pid %s, since %s); waited %d s" % (
        holder.get("owner") or "?", holder.get("pid", "?"),
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(holder["since"])) if holder.get("since") else "?",
        busy.waited)
