# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A per-host lease that keeps two crossnet runs from interleaving their changes.

The lease is a file created with O_EXCL, holding the owner's run id, the identity of the
controller process running it and an expiry time.  It outlives the module process on purpose:
the role takes it at the start of a run and gives it back at the end, across many module calls.

A run whose controller was killed leaves its lease behind.  The next run's controller sees from
the recorded identity (host name, pid, process start time, boot id) whether that process is gone
(``process_gone``, on the controller, where the pid lives) and then breaks the lease by naming
its owner (``break_owner``).  A lease nobody can judge expires after ``ttl`` seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time

DEFAULT_LOCK_PATH = "/run/lock/crossnet.lock"
_BOOT_ID = "/proc/sys/kernel/random/boot_id"


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


def describe(lease, now=None):
    """The holder of ``lease`` in words, for messages."""
    now = time.time() if now is None else now
    controller = lease.get("controller") or {}
    if not isinstance(controller, dict):
        controller = {}
    return "run %r (controller %s pid %s, lease expires in %d s)" % (
        lease.get("owner"), controller.get("host", "?"), controller.get("pid", "?"),
        int(lease.get("expires", 0) - now))


def held_by_other(lease, owner, now):
    """Whether ``lease`` (or None) keeps ``owner`` out at time ``now``."""
    return lease is not None and lease.get("owner") != owner and lease.get("expires", 0) > now


def try_acquire(path, owner, ttl, now=None, controller=None, break_owner=None):
    """Take or renew the lease for ``owner``; raise LockHeld when someone else holds it.

    ``controller`` (a dict, see ``process_identity``) is recorded in the lease.  ``break_owner``
    takes over a live lease, but only one that this exact owner still holds: the caller has
    found that owner's controller gone.  Returns the lease now in force.
    """
    now = time.time() if now is None else now
    lease = {"owner": owner, "expires": now + ttl, "controller": controller or {}}
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    with _guard(path):
        current = read(path)
        if held_by_other(current, owner, now) and (break_owner is None or current.get("owner") != break_owner):
            raise LockHeld(current)
        # Free, ours to renew, expired, broken or unreadable.  Renaming a fresh file over it
        # keeps a reader from ever seeing a half-written lease.
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


def acquire(path, owner, ttl, timeout, poll=0.5, controller=None, break_owner=None):
    """Wait up to ``timeout`` seconds for the lease; raise LockHeld if it is still held then."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return try_acquire(path, owner, ttl, controller=controller, break_owner=break_owner)
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


# -- the controller process behind a lease ----------------------------------------------------
def _read_first_line(path):
    try:
        with open(path, encoding="ascii") as handle:
            return handle.readline().strip()
    except OSError:
        return None


def _stat_fields(pid):
    """Fields 3.. of /proc/<pid>/stat (state first), or None.  The command name (field 2) is
    skipped by its closing parenthesis: it may itself hold spaces and parentheses."""
    line = _read_first_line("/proc/%d/stat" % pid)
    if not line or ")" not in line:
        return None
    return line.rsplit(")", 1)[1].split()


def process_identity(pid):
    """What tells process ``pid`` of this machine apart from a later one with the same pid:
    ``{"pid", "started" (clock ticks after boot), "boot_id"}``; the last two are None without
    /proc."""
    fields = _stat_fields(pid)
    return {"pid": pid, "started": fields[19] if fields and len(fields) > 19 else None,
            "boot_id": _read_first_line(_BOOT_ID)}


def process_gone(identity):
    """True only when the process ``identity`` names surely no longer runs on this machine
    (exited, a zombie, its pid taken by a later process, or the machine rebooted since)."""
    pid = identity.get("pid")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    boot_id = _read_first_line(_BOOT_ID)
    if identity.get("boot_id") and boot_id and identity["boot_id"] != boot_id:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, as another user's process
    fields = _stat_fields(pid)
    if fields is None:
        return False
    # A killed process stays a zombie until its parent reaps it: it runs nothing any more.
    if fields[0] in ("Z", "X"):
        return True
    started = fields[19] if len(fields) > 19 else None
    return bool(identity.get("started") and started and identity["started"] != started)
