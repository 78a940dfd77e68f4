# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reconcile named network namespaces.  Ours are the ones listed in ``state_dir/netns.json``.

Only /run/netns and the state file are read: no namespace is entered.  A new namespace gets its
``lo`` up when it is made; ``lo`` in existing ones is veth_pair's job (it visits them anyway).

A namespace that still has a process in it (a running container) is not removed unless
``force_remove`` says so: the processes are found by /proc/<pid>/ns/net, compared with the
namespace's file by device and inode, before anything is changed.
"""

from __future__ import annotations

import os

from ansible_collections.crossnet.routed.plugins.module_utils.failure import StepFailed
from ansible_collections.crossnet.routed.plugins.module_utils import names as namerules
from ansible_collections.crossnet.routed.plugins.module_utils import nsfs, statefile

STATE_FILE = "netns.json"
PROC = "/proc"
SHOWN_PROCESSES = 3  # processes named per namespace in a refusal, then "and N more"


class Plan:
    def __init__(self):
        self.errors = []
        self.create = []
        self.remove = []
        self.adopt = []
        self.forget = []  # owned in the state file, gone from the kernel

    @property
    def changed(self):
        return bool(self.create or self.remove or self.adopt)


def plan(names, state, existing, owned, purge=False, adopt=False):
    """Pure: what to do so that ``names`` are present/absent.

    ``existing``: namespaces in /run/netns; ``owned``: names in our state file.
    """
    result = Plan()
    existing, owned, wanted = set(existing), set(owned), list(dict.fromkeys(names))
    if state == "present":
        for name in wanted:
            if name not in existing:
                result.create.append(name)
                continue
            if name not in owned:
                if not adopt:
                    result.errors.append("network namespace %s exists and was not created by crossnet "
                                         "(set adopt=true to take it over)" % name)
                    continue
                result.adopt.append(name)
        if purge:
            result.remove = sorted((owned & existing) - set(wanted))
    else:
        for name in wanted:
            if name not in existing:
                continue
            if name not in owned and not adopt:
                result.errors.append("network namespace %s exists and was not created by crossnet "
                                     "(set adopt=true to remove it anyway)" % name)
                continue
            result.remove.append(name)
    result.forget = sorted(owned - existing)
    return result


def _ns_id(path):
    st = os.stat(path)
    return st.st_dev, st.st_ino


def _comm(pid, proc=PROC):
    try:
        with open(os.path.join(proc, str(pid), "comm"), encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return "?"


def processes_in(names, proc=PROC):
    """{name: [(pid, command name), ...]} of the namespaces ``names`` that a process is in.

    A process is in a namespace when its /proc/<pid>/ns/net is the namespace's file (same device
    and inode).  A /proc entry that cannot be read (the process ended, or no permission) is skipped,
    and so is a namespace whose file is gone.
    """
    wanted = {}
    for name in names:
        try:
            wanted[_ns_id(nsfs.netns_path(name))] = name
        except OSError:
            continue
    found = {}
    if not wanted:
        return found
    try:
        pids = sorted(int(entry) for entry in os.listdir(proc) if entry.isdigit())
    except OSError:
        return found
    for pid in pids:
        try:
            name = wanted.get(_ns_id(os.path.join(proc, str(pid), "ns", "net")))
        except OSError:
            continue
        if name is not None:
            found.setdefault(name, []).append((pid, _comm(pid, proc)))
    return found


def busy_message(busy, limit=SHOWN_PROCESSES):
    """The refusal for ``busy`` ({name: [(pid, comm)]}), one clause per namespace."""
    parts = []
    for name in sorted(busy):
        procs = busy[name]
        shown = ", ".join("pid %d (%s)" % (pid, comm) for pid, comm in procs[:limit])
        if len(procs) > limit:
            shown += " and %d more" % (len(procs) - limit)
        parts.append("network namespace %s still has processes in it: %s" % (name, shown))
    return ("; ".join(parts) + "; refusing to remove %s (a running container would lose its network): "
            "stop the processes first, or set force_remove=true (role: crossnet_force_remove)"
            % ("it" if len(parts) == 1 else "them"))


def managed_view(names, existing, owned):
    """The namespaces this module speaks about, as they are: listed or owned, and existing."""
    return sorted((set(names) | set(owned)) & set(existing))


def predicted_view(names, existing, owned, result):
    view = set(managed_view(names, existing, owned)) | set(result.create)
    return sorted(view - set(result.remove))


class NetnsReconciler:
    def __init__(self, names, state="present", purge=False, adopt=False, state_dir=statefile.DEFAULT_STATE_DIR,
                 force_remove=False):
        self.names = list(dict.fromkeys(names))
        self.state = state
        self.purge = purge
        self.adopt = adopt
        self.state_dir = state_dir
        self.force_remove = force_remove

    def owned(self):
        return statefile.load(self.state_dir, STATE_FILE, {}).get("namespaces", [])

    def _save(self, names):
        if names:
            statefile.save(self.state_dir, STATE_FILE, {"namespaces": sorted(set(names))})
        else:
            statefile.remove(self.state_dir, STATE_FILE)

    def run(self, check_mode):
        existing = nsfs.list_netns()
        owned = self.owned()
        result = plan(self.names, self.state, existing, owned, self.purge, self.adopt)
        if result.remove and not self.force_remove:
            busy = processes_in(result.remove)
            if busy:
                result.errors.append(busy_message(busy))
        report = {
            "errors": result.errors,
            "changed": result.changed,
            "created": result.create,
            "removed": result.remove,
            "adopted": result.adopt,
            "before": {"namespaces": managed_view(self.names, existing, owned)},
            "after": {"namespaces": predicted_view(self.names, existing, owned, result)},
        }
        if result.errors or check_mode:
            return report
        keep = (set(owned) - set(result.forget)) | set(result.create) | set(result.adopt)
        if result.create or result.adopt or result.forget:
            # written before creating, so that a run killed half way still owns what it made
            self._save(keep)
        if result.create:
            nsfs.create_netns(result.create)
        for name in result.remove:
            nsfs.remove_netns(name)
        if result.remove:
            self._save(keep - set(result.remove))
        return report


def refusal(params):
    """The refusal ``run(params, ...)`` would give for namespaces with processes in them, or None:
    for a caller that must refuse before it changes anything else (host_network)."""
    if params.get("force_remove"):
        return None
    try:
        reconciler = NetnsReconciler(params["names"], params["state"], params["purge"], params["adopt"],
                                     params["state_dir"])
        result = plan(reconciler.names, reconciler.state, nsfs.list_netns(), reconciler.owned(),
                      reconciler.purge, reconciler.adopt)
        busy = processes_in(result.remove) if result.remove else {}
    except (OSError, ValueError):
        return None  # the netns step itself reports it
    return busy_message(busy) if busy else None


def run(params, check_mode, diff):
    """The netns module's work: ``params`` as its argument spec gives them; the result dict."""
    bad = ["network namespace name %r %s" % (n, namerules.netns_error(n))
           for n in params["names"] if namerules.netns_error(n)]
    if bad:
        raise StepFailed("; ".join(bad))
    reconciler = NetnsReconciler(params["names"], params["state"], params["purge"], params["adopt"],
                                 params["state_dir"], params.get("force_remove", False))
    try:
        report = reconciler.run(check_mode)
    except OSError as exc:
        raise StepFailed("network namespaces %s: %s" % (", ".join(params["names"]), exc)) from exc
    if report["errors"]:
        raise StepFailed("; ".join(report["errors"]))
    result = dict(changed=report["changed"], namespaces=reconciler.names, created=report["created"],
                  removed=report["removed"], adopted=report["adopted"])
    if diff:
        result["diff"] = dict(before=report["before"], after=report["after"])
    return result
