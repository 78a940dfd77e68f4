# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A per-host lease that keeps two crossnet runs from interleaving their changes.

The lease is a file created with O_EXCL, holding the owner's run id and an expiry time.  It
outlives the module process on purpose: the role takes it at the start of a run and gives it back
at the end, across many module calls.  A run that dies without giving it back leaves a lease that
expires after ``ttl`` seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time

DEFAULT_LOCK_PATH = "/run/lock/crossnet.lock"


class LockHeld(Exception):
    """Another owner holds an unexpired lease."""

    def __init__(self, lease):
        super().__init__(lease)
        self.lease = lease


def read(path):
    """The lease at ``path`` as a dict, or None when there is none (or it is unreadable)."""
    try:
        with open(path, encoding="utf-8") as handle:
            lease = json.load(handle)
    except (FileNotFoundError, ValueError):
        return None
    return lease if isinstance(lease, dict) else None


def _create(path, lease):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(lease, handle)


def try_acquire(path, owner, ttl, now=None):
    """Take or renew the lease for ``owner``; raise LockHeld when someone else holds it.

    Returns the lease now in force.
    """
    now = time.time() if now is None else now
    lease = {"owner": owner, "expires": now + ttl, "pid": os.getpid()}
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    with _guard(path):
        current = read(path)
        if current is not None and current.get("owner") != owner and current.get("expires", 0) > now:
            raise LockHeld(current)
        # Free, ours to renew, expired or unreadable.  Renaming a fresh file over it keeps a
        # reader from ever seeing a half-written lease.
        tmp = "%s.%d" % (path, os.getpid())
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        _create(tmp, lease)
        os.replace(tmp, path)
    return lease


@contextlib.contextmanager
def _guard(path):
    """Serialise the read-decide-write of a lease between processes on this host."""
    fd = os.open(path + ".guard", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def acquire(path, owner, ttl, timeout, poll=0.5):
    """Wait up to ``timeout`` seconds for the lease; raise LockHeld if it is still held then."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return try_acquire(path, owner, ttl)
        except LockHeld:
            if time.monotonic() >= deadline:
                raise
            time.sleep(poll)


def release(path, owner):
    """Give the lease back if ``owner`` holds it; return whether a lease was removed."""
    with _guard(path):
        current = read(path)
        if current is None or current.get("owner") != owner:
            return False
        os.unlink(path)
    return True
