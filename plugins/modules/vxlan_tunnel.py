#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vxlan_tunnel
short_description: Manage the VXLAN overlay device of a host and its entries for remote peers
version_added: "0.1.0"
description:
  - Creates one VXLAN device per listed tunnel in the host's network namespace, with a fixed
    VNI, UDP port and local (node) address, C(learning off) and no multicast group, its VTEP
    address (a C(/32)) and MAC, and, per remote peer, a permanent neighbour entry (peer VTEP
    address -> peer MAC) and a forwarding entry (peer MAC -> peer node address).  This is the
    overlay the P(crossnet.routed.network_plan#filter) filter plans for hosts in other subnets.
  - With no multicast group, no all-zero entry and learning off, the device sends a frame only
    to a MAC it has an entry for, that is only to the listed peers.
  - Routes through the tunnel (to a peer's containers via its VTEP address, C(onlink), and to
    the peer's VTEP address) are M(crossnet.routed.host_route)'s.
  - A device of ours carries the alias C(crossnet:vxlan).  The kernel ignores an alias given at
    creation, so the module records the name in C(<state_dir>/vxlan.json) first; a recorded
    device without alias counts as ours.  The neighbour and forwarding entries the module made
    are recorded in the same file, by device; an entry that is not recorded is someone else's.
    It is left alone, and refused where one of ours must go unless O(adopt=true).
  - VNI, UDP port and local address cannot be changed on an existing device; a device of ours
    that differs in them is deleted and created again.  MTU, MAC, VTEP address and link state
    are repaired in place; a missing or wrong entry is replaced; an entry of ours for a peer
    that is no longer listed is deleted.
  - UDP port O(tunnels[].port) between the node addresses must be open in the underlay; the
    collection's own firewall rules never drop it.
options:
  tunnels:
    description: The tunnels (the role plans at most one per host).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The device name (at most 15 characters).
        type: str
        default: crossnet-vxlan
      vni:
        description: The VXLAN network identifier, 1 to 16777215; the same on every host.
        type: int
        default: 4096
      port:
        description: The UDP destination port; the same on every host.
        type: int
        default: 4789
      local:
        description: The host's node address, the outer source address (must be an address of this host).
        type: str
        required: true
      address:
        description: The host's VTEP address, put on the device as a C(/32).
        type: str
      mac:
        description: The device's MAC address (unicast).  Default whatever the kernel chose.
        type: str
      mtu:
        description:
          - The device's MTU.  Default the MTU of the link holding O(tunnels[].local) minus 50,
            what VXLAN over IPv4 adds to a frame (20 IP, 8 UDP, 8 VXLAN, 14 inner Ethernet).
        type: int
      peers:
        description: The remote ends.
        type: list
        elements: dict
        default: []
        suboptions:
          address:
            description: The peer's VTEP address.
            type: str
            required: true
          mac:
            description: The peer's VTEP MAC address.
            type: str
            required: true
          remote:
            description: The peer's node address (the outer destination).
            type: str
            required: true
          address6:
            description:
              - The IPv6 link-local address of the peer's device (the kernel derives it from the
                device's MAC, EUI-64), when IPv6 routes go through the tunnel to the peer.  An
                IPv6 route cannot have an IPv4 next hop, so they go via this address, and a second
                permanent neighbour entry resolves it to O(tunnels[].peers[].mac).
            type: str
          host:
            description: The peer's name, for messages only.
            type: str
  state:
    description: V(present) makes the tunnels as listed; V(absent) deletes the listed devices of ours.
    type: str
    choices: [present, absent]
    default: present
  purge:
    description: With O(state=present), delete the VXLAN devices of ours that are not listed.
    type: bool
    default: false
  adopt:
    description:
      - Take over a VXLAN device of the tunnel's name, and neighbour or forwarding entries where
        ours must go, that crossnet did not create; and delete a foreign VXLAN device that holds
        the tunnel's VNI and port under another name (the kernel allows only one).
    type: bool
    default: false
  state_dir:
    description: Directory of the collection's state files.
    type: path
    default: /var/lib/crossnet
requirements:
  - pyroute2 (0.7 or later)
  - netaddr
extends_documentation_fragment:
  - crossnet.routed.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    support: full
    platforms: linux
notes:
  - Deleting a device deletes its entries and the routes through it with it.
seealso:
  - module: crossnet.routed.host_route
  - module: crossnet.routed.host_network
author:
  - crossnet.routed contributors (@crossnet)
"""

EXAMPLES = r"""
- name: The overlay toward one host in another subnet
  crossnet.routed.vxlan_tunnel:
    tunnels:
      - local: 192.168.10.2
        address: 10.255.0.7
        mac: "02:63:0a:ff:00:07"
        peers:
          - {host: host3, address: 10.255.0.9, mac: "02:63:0a:ff:00:09", remote: 192.168.20.3}
    purge: true

- name: Its containers through the tunnel
  crossnet.routed.host_route:
    routes:
      - {dest: 10.255.0.9/32, dev: crossnet-vxlan, scope: link}
      - {dest: 10.210.3.0/24, gateway: 10.255.0.9, dev: crossnet-vxlan, onlink: true}
"""

RETURN = r"""
tunnels:
  description: The listed tunnels with their defaults filled in (O(state=present)).
  returned: always
  type: list
  elements: dict
  sample:
    - {name: crossnet-vxlan, vni: 4096, port: 4789, local: 192.168.10.2, address: 10.255.0.7,
       mac: "02:63:0a:ff:00:07", mtu: 1450, peers: [{address: 10.255.0.9, mac: "02:63:0a:ff:00:09",
       remote: 192.168.20.3}]}
created:
  description: Devices created (or created again).
  returned: always
  type: list
  elements: str
  sample: [crossnet-vxlan]
removed:
  description: Devices deleted.
  returned: always
  type: list
  elements: str
  sample: []
peers_added:
  description: C(<device> <peer VTEP address>) of each peer whose entries were added or repaired.
  returned: always
  type: list
  elements: str
  sample: [crossnet-vxlan 10.255.0.9]
peers_removed:
  description: C(<device> <VTEP address or MAC>) of each entry of ours deleted.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crossnet.routed.plugins.module_utils import requirements, vxlan
from ansible_collections.crossnet.routed.plugins.module_utils.failure import exit_with

TUNNEL_OPTIONS = dict(
    name=dict(type="str", default=vxlan.DEFAULT_NAME),
    vni=dict(type="int", default=vxlan.DEFAULT_VNI),
    port=dict(type="int", default=vxlan.DEFAULT_PORT),
    local=dict(type="str", required=True),
    address=dict(type="str"),
    mac=dict(type="str"),
    mtu=dict(type="int"),
    peers=dict(type="list", elements="dict", default=[], options=dict(
        address=dict(type="str", required=True),
        mac=dict(type="str", required=True),
        remote=dict(type="str", required=True),
        address6=dict(type="str"),
        host=dict(type="str"),
    )),
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            tunnels=dict(type="list", elements="dict", required=True, options=TUNNEL_OPTIONS),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            purge=dict(type="bool", default=False),
            adopt=dict(type="bool", default=False),
            state_dir=dict(type="path", default="/var/lib/crossnet"),
        ),
        supports_check_mode=True,
    )
    requirements.require(module, "pyroute2", "netaddr")
    exit_with(module, lambda: vxlan.run(module.params, module.check_mode, module._diff))


if __name__ == "__main__":
    main()
