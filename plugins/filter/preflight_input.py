# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The crossnet.routed.preflight_input filter: a host's preflight, known before the facts."""

from __future__ import annotations

DOCUMENTATION = r"""
name: preflight_input
author: crossnet.routed contributors (@crossnet)
version_added: 0.1.0
short_description: A host's preflight input when the inventory alone decides it
description:
  - Returns what the C(preflight) key of C(crossnet.routed.network_plan) will be for one host
    (C(uplink), C(node_address), C(peers)), with C(host) added, when the inventory gives that host's
    C(crossnet_uplink) and every host's C(crossnet_node_address); otherwise V(None).
  - The C(container_network) role passes it to M(crossnet.routed.network_facts), which then
    runs the preflight checks in the same task that gathers the facts.
options:
  _input:
    description: C(hostvars).
    type: dict
    required: true
  hosts:
    description: The hosts of the container network, usually C(groups['crossnet_hosts']).
    type: list
    elements: str
    required: true
  host:
    description: The host whose preflight is wanted, usually C(inventory_hostname).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Gather the facts and check the host in one task
  crossnet.routed.network_facts:
    preflight: "{{ hostvars | crossnet.routed.preflight_input(groups['crossnet_hosts'], inventory_hostname) }}"
"""

RETURN = r"""
_value:
  description: C({host, uplink, node_address, peers}) or V(None).
  type: dict
"""

from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import NETADDR_IMPORT_ERROR, explicit_preflight

VARIABLES = ("crossnet_uplink", "crossnet_node_address")


def preflight_input(hostvars, hosts, host):
    if NETADDR_IMPORT_ERROR is not None or host not in hosts:
        return None
    variables = {}
    for name in hosts:
        if name not in hostvars:
            return None
        host_vars = hostvars[name]
        variables[name] = {key: host_vars[key] for key in VARIABLES if key in host_vars}
    wanted = explicit_preflight(variables, host)
    return None if wanted is None else dict(wanted, host=host)


class FilterModule:
    def filters(self):
        return {"preflight_input": preflight_input}
