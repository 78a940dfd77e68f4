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
    C(crossnet_node_address) to the primary IPv4 address of the uplink, C(crossnet_node_address6)
    to the uplink's first global IPv6 address, a container's C(mtu) to the uplink's MTU, all
    taken from the facts.
  - Routes to another host's containers go to its C(crossnet_container_cidr) of that IP version
    when it has one, else to exactly C(netaddr.cidr_merge) of its addresses; IPv4 via its node
    address, IPv6 via its IPv6 node address.  IPv6 containers across the VXLAN overlay are
    refused (not supported yet).
  - With C(crossnet_encapsulation) V(vxlan) or V(cross_subnet) a peer may be reached through a
    VXLAN overlay instead, with routes via the peer's VTEP address on C(crossnet-vxlan) and the
    host's tunnel in the key C(vxlan) (see docs/variables.md and docs/design.md).
  - A host without facts (unreachable when the play started) is not an error.  Its node address
    is then C(crossnet_node_address), or else its C(ansible_host) when that is an IPv4 address
    inside a network of the other host's uplink (facts) and used by nothing else.  When neither
    gives one, the other hosts neither add nor remove routes toward its containers (plan keys
    C(routes_keep), C(unresolved_peers)); its own plan carries C(unresolved) with the reason.
extends_documentation_fragment:
  - crossnet.routed.inventory_hosts
  - crossnet.routed.plan_options
options:
  summary:
    description:
      - Leave out the lists of each host's containers (namespaces, veth_pairs, routes,
        proxy_arp_interfaces, masquerade, forwarding) and its tunnel (vxlan); the inventory is
        validated all the same.
      - The role stores only this, and lets M(crossnet.routed.host_network) plan its host's
        lists on the controller (its O(crossnet.routed.host_network#module:plan) option), because
        Ansible copies a stored fact several times, seconds' worth at a thousand containers.
    type: bool
    default: false
  store:
    description:
      - Plan once for a whole run.  Write the part of each of these hosts (usually
        C(ansible_play_batch)) to a private directory on the controller that lives as long as
        ansible-playbook, and return only C(store) (that directory), C(summary) (the summary of
        these hosts' parts, as with O(summary=true)) and C(stats).
      - M(crossnet.routed.host_network) with O(crossnet.routed.host_network#module:plan.store)
        then reads its host's part from there instead of planning the inventory again.  Hosts
        of the list that are not in O(hosts) are left out.
    type: list
    elements: str
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
  description:
    - C(host) to plan, with the keys namespaces, veth_pairs, routes, proxy_arp_interfaces,
      masquerade, forwarding, preflight, routes_keep, unresolved_peers, unresolved and vxlan (with
      O(summary=true) only preflight, routes_keep, unresolved_peers and unresolved); see
      docs/design.md.
    - With O(store), C(store) (the directory of the parts), C(summary) (C(host) to summary,
      for the hosts listed) and C(stats) (C(seconds) the CPU seconds planning and writing took, C(hosts),
      C(containers)).
  type: dict
"""

import time

from ansible.errors import AnsibleFilterError

from ansible_collections.crossnet.routed.plugins.plugin_utils import plan_store
from ansible_collections.crossnet.routed.plugins.plugin_utils.inventory import host_variables
from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import (
    DEFAULT_GATEWAY,
    DEFAULT_GATEWAY6,
    NETADDR_IMPORT_ERROR,
    PlanError,
    host_network_args,
    plan_network,
    summary as _summary,
    without_cyclic_gc,
)


def _stored(plan, hosts, started):
    """Write the parts of ``hosts`` and return what the role keeps of them."""
    parts = {host: plan.part(host) for host in hosts if host in plan}
    directory = plan_store.write(
        {host: {"args": host_network_args(part), "peers": part["preflight"]["peers"],
                "uplink": part["preflight"]["uplink"], "unresolved": part["unresolved"]}
         for host, part in parts.items()},
        {name: plan.routed_networks(name) for name in plan.names}, plan.vteps())
    return {"store": directory, "summary": _summary(parts),
            "stats": {"seconds": round(time.process_time() - started, 4), "hosts": len(plan.names),
                      "containers": plan.containers}}


def network_plan(hostvars, hosts, gateway=DEFAULT_GATEWAY, masquerade=True, masquerade_exclude=None,
                 summary=False, store=None, gateway6=DEFAULT_GATEWAY6, masquerade6=True):
    if NETADDR_IMPORT_ERROR is not None:
        raise AnsibleFilterError("crossnet.routed.network_plan needs the Python library netaddr on "
                                 "the controller: %s" % NETADDR_IMPORT_ERROR)
    if isinstance(hosts, str) or not hasattr(hosts, "__iter__"):
        raise AnsibleFilterError("crossnet.routed.network_plan: hosts must be a list of inventory "
                                 "hostnames, got %r" % (hosts,))
    if store is not None and (isinstance(store, str) or not hasattr(store, "__iter__")):
        raise AnsibleFilterError("crossnet.routed.network_plan: store must be a list of inventory "
                                 "hostnames, got %r" % (store,))
    started = time.process_time()
    with without_cyclic_gc():
        try:
            variables = host_variables(hostvars, hosts)
        except KeyError as exc:
            raise AnsibleFilterError("crossnet.routed.network_plan: host %s is not in the inventory"
                                     % exc.args[0]) from None
        try:
            plan = plan_network(variables, gateway=gateway, masquerade=masquerade,
                                masquerade_exclude=masquerade_exclude, gateway6=gateway6, masquerade6=masquerade6)
        except PlanError as exc:
            raise AnsibleFilterError(str(exc)) from None
        if store is not None:
            return _stored(plan, store, started)
        parts = {name: plan.part(name) for name in plan.names}
        return _summary(parts) if summary else parts


class FilterModule:
    def filters(self):
        return {"network_plan": network_plan}
