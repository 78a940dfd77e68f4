# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of crossnet.routed.host_network: with ``plan``, plan this host's part here.

The role validates the whole inventory once (the network_plan filter) and keeps only a summary;
each host's lists of namespaces, veth pairs and routes are planned again here, in the host's
own worker, from the same hostvars, and handed to the module as plain data.  Templating and
storing those lists as facts cost Ansible seconds at a thousand containers per host.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.crossnet.routed.plugins.plugin_utils.inventory import host_variables
from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import (
    DEFAULT_GATEWAY,
    HOST_NETWORK_OPTIONS,
    NETADDR_IMPORT_ERROR,
    PlanError,
    host_network_args,
    network_plan,
)

MODULE = "crossnet.routed.host_network"
PLAN_OPTIONS = {"hosts", "gateway", "masquerade", "masquerade_exclude"}


def plan_part(hostvars, host, plan):
    """This host's options of the module, planned from ``hostvars``; raises ValueError."""
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
                            masquerade_exclude=plan.get("masquerade_exclude"))[host]
    except PlanError as exc:
        raise ValueError(str(exc)) from None
    if part["unresolved"] is not None:
        raise ValueError("%s: %s; gather facts or set crossnet_uplink and crossnet_node_address"
                         % (host, part["unresolved"]))
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
            try:
                args.update(plan_part(task_vars["hostvars"], task_vars["inventory_hostname"], plan))
            except ValueError as exc:
                return dict(result, failed=True, msg=str(exc))
        result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        return result
