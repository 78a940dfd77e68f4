# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The crossnet.routed.network_plan filter: hostvars of the container network -> plan per host."""

from __future__ import annotations

DOCUMENTATION = r"""
name: network_plan
author: crossnet.routed contributors (@crossnet)
version_added: 0.1.0
short_description: Plan the routed container network of every host
description:
  - Reads the C(crossnet_*) variables and the gathered facts of every host and
    returns, for each of them, the namespaces, veth pairs, routes, proxy-ARP interfaces,
    masquerade and forwarding settings the C(crossnet.routed) modules take (see docs/design.md).
  - Validates the whole inventory first and fails listing every problem, each naming the host,
    the container and the offending value, so that no host is changed when any host is wrong.
  - C(crossnet_uplink) defaults to the interface of the host's default IPv4 route,
    C(crossnet_node_address) to the primary IPv4 address of the uplink, a container's C(mtu) to
    the uplink's MTU, all taken from the facts.
  - Routes to another host's containers go to its C(crossnet_container_cidr) when it has one,
    else to exactly C(netaddr.cidr_merge) of its addresses.
  - A host without facts (unreachable when the play started) is not an error.  Its node address
    is then C(crossnet_node_address), or else its C(ansible_host) when that is an IPv4 address
    inside a network of the other host's uplink (facts) and used by nothing else.  When neither
    gives one, the other hosts neither add nor remove routes toward its containers (plan keys
    C(routes_keep), C(unresolved_peers)); its own plan carries C(unresolved) with the reason.
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
  gateway:
    description: The link-local gateway containers route to.
    type: str
    default: 169.254.1.1
  masquerade:
    description: Whether traffic from containers to outside the container network is NATed.
    type: bool
    default: true
  masquerade_exclude:
    description: Extra destinations (IPv4 CIDRs or addresses) never NATed.
    type: list
    elements: str
    default: []
  summary:
    description:
      - Leave out the lists of each host's containers (namespaces, veth_pairs, routes,
        proxy_arp_interfaces, masquerade, forwarding); the inventory is validated all the same.
      - The role stores only this, and lets M(crossnet.routed.host_network) plan its host's
        lists on the controller (its O(crossnet.routed.host_network#module:plan) option), because
        Ansible copies a stored fact several times, seconds' worth at a thousand containers.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Plan the whole container network once
  ansible.builtin.set_fact:
    crossnet_plan: >-
      {{ hostvars | crossnet.routed.network_plan(groups['crossnet_hosts'],
                                                 gateway=crossnet_gateway) }}
  run_once: true
"""

RETURN = r"""
_value:
  description: >-
    C({host: plan}) with the keys namespaces, veth_pairs, routes, proxy_arp_interfaces,
    masquerade, forwarding, preflight, routes_keep, unresolved_peers and unresolved (with
    O(summary=true) only the last four); see docs/design.md.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.crossnet.routed.plugins.plugin_utils.inventory import host_variables
from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import (
    DEFAULT_GATEWAY,
    NETADDR_IMPORT_ERROR,
    PlanError,
    network_plan as _network_plan,
    summary as _summary,
)


def network_plan(hostvars, hosts, gateway=DEFAULT_GATEWAY, masquerade=True, masquerade_exclude=None,
                 summary=False):
    if NETADDR_IMPORT_ERROR is not None:
        raise AnsibleFilterError("crossnet.routed.network_plan needs the Python library netaddr on "
                                 "the controller: %s" % NETADDR_IMPORT_ERROR)
    if isinstance(hosts, str) or not hasattr(hosts, "__iter__"):
        raise AnsibleFilterError("crossnet.routed.network_plan: hosts must be a list of inventory "
                                 "hostnames, got %r" % (hosts,))
    try:
        variables = host_variables(hostvars, hosts)
    except KeyError as exc:
        raise AnsibleFilterError("crossnet.routed.network_plan: host %s is not in the inventory"
                                 % exc.args[0]) from None
    try:
        plan = _network_plan(variables, gateway=gateway, masquerade=masquerade,
                             masquerade_exclude=masquerade_exclude)
    except PlanError as exc:
        raise AnsibleFilterError(str(exc)) from None
    return _summary(plan) if summary else plan


class FilterModule:
    def filters(self):
        return {"network_plan": network_plan}
