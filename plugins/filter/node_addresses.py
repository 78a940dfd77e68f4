# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The crossnet.routed.node_addresses filter: every host's node address, when the inventory gives them all."""

from __future__ import annotations

DOCUMENTATION = r"""
name: node_addresses
author: crossnet.routed contributors (@crossnet)
version_added: 0.1.0
short_description: Every host's node address, when the inventory gives them all
description:
  - Returns a mapping of each host to its node address, in the order of O(hosts), when every host has a valid
    C(crossnet_node_address) and no host sets C(crossnet_encapsulation) V(cross_subnet); otherwise V(None).
  - When a container of any host has an IPv6 address, each value is C({address, address6, ipv6}) instead
    (C(crossnet_node_address6), and whether the host has IPv6 containers), and every host needs a valid
    C(crossnet_node_address6) and C(crossnet_encapsulation) V(none); otherwise V(None).
  - The C(container_network) role computes it once per run and hands it to
    C(crossnet.routed.preflight_input) for each host, so that the preflight input of all hosts
    costs time linear in the number of hosts.
extends_documentation_fragment:
  - crossnet.routed.inventory_hosts
"""

EXAMPLES = r"""
- name: Work out the node addresses once
  ansible.builtin.set_fact:
    node_addresses: "{{ hostvars | crossnet.routed.node_addresses(groups['crossnet_hosts']) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: Each host's node address (or C({address, address6, ipv6})) by host, or V(None).
  type: dict
"""

from ansible_collections.crossnet.routed.plugins.plugin_utils.inventory import host_variables
from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import (
    EXPLICIT_VARIABLES,
    NETADDR_IMPORT_ERROR,
    explicit_node_addresses,
)


def node_addresses(hostvars, hosts):
    if NETADDR_IMPORT_ERROR is not None:
        return None
    try:
        variables = host_variables(hostvars, hosts, EXPLICIT_VARIABLES)
    except KeyError:
        return None  # a host without variables: the plan step will say so
    return explicit_node_addresses(variables)


class FilterModule:
    def filters(self):
        return {"node_addresses": node_addresses}
