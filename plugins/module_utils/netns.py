# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reconcile named network namespaces.  Ours are the ones listed in ``state_dir/netns.json``."""

from __future__ import annotations

from ansible_collections.crossnet.routed.plugins.module_utils import netlink, statefile

STATE_FILE = "netns.json"
IFF_UP = 0x1


class Plan:
    def __init__(self):
        self.errors = []
        self.create = []
        self.remove = []
        self.adopt = []
        self.loopback_up = []  # existing namespaces whose loopback is down
        self.forget = []  # owned in the state file, gone from the kernel

    @property
    def changed(self):
        return bool(self.create or self.remove or self.adopt or self.loopback_up)


def plan(names, state, existing, owned, purge=False, adopt=False, loopback_down=()):
    """Pure: what to do so that ``names`` are present/absent.

    ``existing``: namespaces in /run/netns; ``owned``: names in our state file;
    ``loopback_down``: existing namespaces whose ``lo`` is not up.
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
            if name in loopback_down:
                result.loopback_up.append(name)
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


def loopback_is_up(sockets, name):
    for link in netlink.dump(sockets[name].get_links):
        if link.get_attr("IFLA_IFNAME") == "lo":
            return bool(link["flags"] & IFF_UP)
    return False


def set_loopback_up(sockets, name):
    ipr = sockets[name]
    index = ipr.link_lookup(ifname="lo")[0]
    ipr.link("set", index=index, state="up")


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

    def run(self, sockets, check_mode):
        existing = netlink.list_netns()
        owned = self.owned()
        down = []
        if self.state == "present":
            down = [n for n in self.names if n in existing and not loopback_is_up(sockets, n)]
        result = plan(self.names, self.state, existing, owned, self.purge, self.adopt, down)
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
        for name in result.create:
            netlink.create_netns(name)
            set_loopback_up(sockets, name)
        for name in result.loopback_up:
            set_loopback_up(sockets, name)
        for name in result.remove:
            sockets.forget(name)
            netlink.remove_netns(name)
        if result.remove:
            self._save(keep - set(result.remove))
        return report
