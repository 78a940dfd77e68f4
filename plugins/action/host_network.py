# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of crossnet.routed.host_network: with ``plan``, this host's part as options.

The role plans the whole inventory once per run (the network_plan filter with ``store``), which
writes each host's part on the controller; here ``plan: {store: ...}`` reads this host's part
and hands it to the module as plain data (templating and storing those lists as facts cost
Ansible seconds at a thousand containers per host).  Without ``store``, ``plan`` names the
planning options and this host's part is planned here, from the same hostvars.
"""

from __future__ import annotations

import time

from ansible.plugins.action import ActionBase

from ansible_collections.crossnet.routed.plugins.plugin_utils import plan_store
from ansible_collections.crossnet.routed.plugins.plugin_utils.inventory import host_variables
from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import (
    DEFAULT_GATEWAY,
    DEFAULT_GATEWAY6,
    HOST_NETWORK_OPTIONS,
    NETADDR_IMPORT_ERROR,
    PlanError,
    host_network_args,
    network_plan,
)

MODULE = "crossnet.routed.host_network"
PLAN_OPTIONS = {"hosts", "gateway", "masquerade", "masquerade_exclude", "gateway6", "masquerade6"}


def _unresolved_error(host, unresolved):
    return ValueError("%s: %s; gather facts or set crossnet_uplink and crossnet_node_address"
                      % (host, unresolved))


def stored_part(host, plan):
    """This host's options of the module, from the part the network_plan filter stored."""
    others = sorted(set(plan) - {"store"})
    if others:
        raise ValueError("plan.store and plan.%s are mutually exclusive" % ", plan.".join(others))
    part = plan_store.read(plan["store"], host)
    if part["unresolved"] is not None:
        raise _unresolved_error(host, part["unresolved"])
    return part["args"]


def plan_part(hostvars, host, plan):
    """This host's options of the module, planned from ``hostvars``; raises ValueError."""
    if "store" in plan:
        return stored_part(host, plan)
    unknown = set(plan) - PLAN_OPTIONS
    if unknown:
        raise ValueError("plan: unknown keys %s (known: %s)"
                         % (", ".join(sorted(unknown)), ", ".join(sorted(PLAN_OPTIONS))))
    hosts = plan.get("hosts")
    if not isinstance(hosts, list) or not all(isinstance(name, str) for name in hosts):
        raise ValueError("plan.hosts must be a list of inventory hostnames, got %r" % (hosts,))
    if host not in hosts:
        raise ValueError("%s is not in plan.hosts" % host)
    if NETADDR_IMPORT_ERROR is not None:
        raise ValueError("planning needs the Python library netaddr on the controller: %s"
                         % NETADDR_IMPORT_ERROR)
    try:
        variables = host_variables(hostvars, hosts)
    except KeyError as exc:
        raise ValueError("plan.hosts: host %s is not in the inventory" % exc.args[0]) from None
    try:
        part = network_plan(variables, gateway=plan.get("gateway", DEFAULT_GATEWAY),
                            masquerade=plan.get("masquerade", True),
                            masquerade_exclude=plan.get("masquerade_exclude"),
                            gateway6=plan.get("gateway6", DEFAULT_GATEWAY6),
                            masquerade6=plan.get("masquerade6", True))[host]
    except PlanError as exc:
        raise ValueError(str(exc)) from None
    if part["unresolved"] is not None:
        raise _unresolved_error(host, part["unresolved"])
    return host_network_args(part)


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        plan = args.pop("plan", None)
        if plan is not None:
            if not isinstance(plan, dict):
                return dict(result, failed=True, msg="plan must be a dict, got %s" % type(plan).__name__)
            given = sorted(key for key in HOST_NETWORK_OPTIONS if key in args)
            if given:
                return dict(result, failed=True,
                            msg="plan and %s are mutually exclusive" % ", ".join(given))
            started = time.process_time()
            try:
                args.update(plan_part(task_vars["hostvars"], task_vars["inventory_hostname"], plan))
            except ValueError as exc:
                return dict(result, failed=True, msg=str(exc))
            # What the controller spent on this host's part (the benchmarks add it up per run).
            result["plan_seconds"] = round(time.process_time() - started, 4)
        result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        return result
