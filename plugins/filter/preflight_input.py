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
    (C(uplink), C(node_address), C(node_address6), C(peers)), with C(host) added, when the
    inventory gives that host's C(crossnet_uplink) and every host's C(crossnet_node_address), and
    no host sets a C(crossnet_encapsulation) V(cross_subnet) (which peers are reached through the
    overlay may depend on the facts); otherwise V(None).
  - When a container has an IPv6 address, also every host's C(crossnet_node_address6), and no
    host may set a C(crossnet_encapsulation) other than V(none); otherwise V(None).
  - Reading every host's variables for every host costs time that grows as the square of the
    number of hosts; with O(node_addresses) (what P(crossnet.routed.node_addresses#filter) returned,
    once per run) only this host's variables are read.
  - The C(container_network) role passes it to M(crossnet.routed.network_facts), which then
    runs the preflight checks in the same task that gathers the facts.
extends_documentation_fragment:
  - crossnet.routed.inventory_hosts
options:
  host:
    description: The host whose preflight is wanted, usually C(inventory_hostname).
    type: str
    required: true
  node_addresses:
    description:
      - The node address of every host in O(hosts) by host, as C(crossnet.routed.node_addresses)
        returns it, or V(None) when that said not every address is given (the result is then
        V(None) too).  Omitted, the filter reads every host's variables itself.
      - Given, only this host's C(crossnet_uplink) and C(crossnet_encapsulation) are read.
    type: dict
"""

EXAMPLES = r"""
- name: Work out the node addresses once (run_once), then each host's input from them
  ansible.builtin.set_fact:
    node_addresses: "{{ hostvars | crossnet.routed.node_addresses(groups['crossnet_hosts']) }}"
  run_once: true

- name: Gather the facts and check the host in one task
  crossnet.routed.network_facts:
    preflight: "{{ hostvars | crossnet.routed.preflight_input(groups['crossnet_hosts'], inventory_hostname) }}"
"""

RETURN = r"""
_value:
  description: C({host, uplink, node_address, node_address6, peers}) or V(None).
  type: dict
"""

from ansible_collections.crossnet.routed.plugins.plugin_utils.inventory import host_variables
from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import (
    EXPLICIT_VARIABLES,
    NETADDR_IMPORT_ERROR,
    PREFLIGHT_VARIABLES,
    explicit_preflight,
)

ALL = object()  # node_addresses not given: read every host's variables


def preflight_input(hostvars, hosts, host, node_addresses=ALL):
    if NETADDR_IMPORT_ERROR is not None or host not in hosts:
        return None
    if node_addresses is not ALL and not node_addresses:
        return None
    try:
        if node_addresses is ALL:
            variables = host_variables(hostvars, hosts, EXPLICIT_VARIABLES)
        else:
            variables = host_variables(hostvars, [host], PREFLIGHT_VARIABLES)
    except KeyError:
        return None
    wanted = explicit_preflight(variables, host, None if node_addresses is ALL else dict(node_addresses))
    return None if wanted is None else dict(wanted, host=host)


class FilterModule:
    def filters(self):
        return {"preflight_input": preflight_input}
