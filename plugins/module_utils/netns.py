# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reconcile named network namespaces.  Ours are the ones listed in ``state_dir/netns.json``.

Only /run/netns and the state file are read: no namespace is entered.  A new namespace gets its
``lo`` up when it is made; ``lo`` in existing ones is veth_pair's job (it visits them anyway).
"""

from __future__ import annotations

from ansible_collections.crossnet.routed.plugins.module_utils.failure import StepFailed
from ansible_collections.crossnet.routed.plugins.module_utils import names as namerules
from ansible_collections.crossnet.routed.plugins.module_utils import nsfs, statefile

STATE_FILE = "netns.json"


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


def managed_view(names, existing, owned):
    """The namespaces this module speaks about, as they are: listed or owned, and existing."""
    return sorted((set(names) | set(owned)) & set(existing))


def predicted_view(names, existing, owned, result):
    view = set(managed_view(names, existing, owned)) | set(result.create)
    return sorted(view - set(result.remove))


class NetnsReconciler:
    def __init__(self, names, state="present", purge=False, adopt=False, state_dir=statefile.DEFAULT_STATE_DIR):
        self.names = list(dict.fromkeys(names))
        self.state = state
        self.purge = purge
        self.adopt = adopt
        self.state_dir = state_dir

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


def run(params, check_mode, diff):
    """The netns module's work: ``params`` as its argument spec gives them; the result dict."""
    bad = ["network namespace name %r %s" % (n, namerules.netns_error(n))
           for n in params["names"] if namerules.netns_error(n)]
    if bad:
        raise StepFailed("; ".join(bad))
    reconciler = NetnsReconciler(params["names"], params["state"], params["purge"], params["adopt"],
                                 params["state_dir"])
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
