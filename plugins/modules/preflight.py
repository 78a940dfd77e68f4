#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: preflight
short_description: Check that a host can join the routed container network, changing nothing
description:
  - Runs on a managed host before the container network is applied to it.  It fails, naming the
    host, the uplink and the address, and reporting every problem at once, when one of the
    following holds.
  - The uplink interface does not exist or is down.
  - The node address is not an IPv4 address of the uplink.
  - The node address of a peer host is not on-link via the uplink, that is the kernel's route
    lookup for it does not leave through the uplink, or goes through a gateway, or finds no route
    at all.  Other hosts' containers are routed with the peer's node address as next hop, so it
    must be directly reachable.
  - A peer with O(peers[].overlay=true) is reached through the VXLAN overlay, so its node address
    need not be on-link, only reachable through the routing table (a route that is not local,
    unreachable, blackhole, prohibit or throw); RV(peers) then names the next hop and the
    interface.
  - Only reads links, addresses and route lookups (RTM_GETROUTE); sends no packet.
version_added: "0.1.0"
author:
  - crossnet.routed contributors (@crossnet)
options:
  host:
    description:
      - The name of this host in messages, usually C(inventory_hostname).
      - Without it, the kernel's node name (C(uname -n)).
    type: str
  uplink:
    description: The interface facing the other hosts (C(crossnet_uplink)).
    type: str
    required: true
  node_address:
    description: This host's IPv4 address on the uplink (C(crossnet_node_address)).
    type: str
    required: true
  node_address6:
    description:
      - This host's IPv6 address on the uplink (C(crossnet_node_address6)), when it routes IPv6
        containers; it must be a global IPv6 address of the uplink.
    type: str
  peers:
    description: The other hosts of the container network.
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description: The peer's name, for messages.
        type: str
        required: true
      address:
        description: The peer's node address.
        type: str
        required: true
      address6:
        description:
          - The peer's IPv6 node address, when this host routes IPv6 containers to it.  It must be
            on-link via the uplink (IPv6 never goes through the overlay).
        type: str
      overlay:
        description:
          - The peer is reached through the VXLAN overlay (the plan's C(crossnet_encapsulation)),
            so its node address need only be reachable, not on-link via the uplink.
        type: bool
        default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module never changes anything, so check mode runs the same checks.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
    details: Nothing ever changes.
requirements:
  - pyroute2 (0.7 or later)
notes:
  - The role C(crossnet.routed.container_network) calls it with the values from the plan of the
    C(crossnet.routed.network_plan) filter, on every host, with C(any_errors_fatal).
"""

EXAMPLES = r"""
- name: Check the uplink and that the peers are on-link
  crossnet.routed.preflight:
    host: "{{ inventory_hostname }}"
    uplink: eth0
    node_address: 192.168.9.3
    peers:
      - {host: host2, address: 192.168.9.4}
      - {host: host3, address: 10.99.0.5, overlay: true}
"""

RETURN = r"""
uplink:
  description: The uplink checked.
  returned: always
  type: str
  sample: eth0
uplink_index:
  description: The uplink's interface index.
  returned: when the uplink exists
  type: int
  sample: 2
uplink_mtu:
  description: The uplink's MTU.
  returned: when the uplink exists
  type: int
  sample: 1500
uplink_up:
  description: Whether the uplink is administratively up.
  returned: when the uplink exists
  type: bool
uplink_addresses:
  description: The IPv4 addresses on the uplink.
  returned: when the uplink exists
  type: list
  elements: str
  sample: [192.168.9.3]
node_address:
  description: The node address checked.
  returned: always
  type: str
node_address6:
  description: The IPv6 node address checked.
  returned: when O(node_address6) is given and the uplink exists
  type: str
uplink_addresses6:
  description: The global IPv6 addresses on the uplink.
  returned: when O(node_address6) is given and the uplink exists
  type: list
  elements: str
  sample: ["fd00:9::3"]
peers:
  description:
    - The kernel's route lookup for each peer's node address, then for its IPv6 node address
      when it has one.
    - For a peer with O(peers[].overlay=true) also C(overlay), C(next_hop) (the gateway, or
      C(on-link)) and C(interface) (the name of the output interface).
  returned: always
  type: list
  elements: dict
  sample:
    - {host: host2, address: 192.168.9.4, oif: 2, gateway: null, type: 1, source: 192.168.9.3}
    - {host: host3, address: 10.99.0.5, oif: 2, gateway: 192.168.9.1, type: 1, source: 192.168.9.3,
       overlay: true, next_hop: 192.168.9.1, interface: eth0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crossnet.routed.plugins.module_utils import netlink, preflight, requirements


def main():
    module = AnsibleModule(argument_spec=preflight.ARGUMENT_SPEC, supports_check_mode=True)
    requirements.require(module, "pyroute2")
    with netlink.Sockets() as sockets:
        facts, errors = preflight.check_params(sockets[None], module.params)
    if errors:
        module.fail_json(msg="; ".join(errors), errors=errors, changed=False, **facts)
    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()
