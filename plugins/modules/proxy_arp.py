#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: proxy_arp
short_description: Turn on proxy ARP (without delay) on host-side veths
version_added: "0.1.0"
description:
  - Sets C(net.ipv4.conf.<if>.proxy_arp=1) and C(net.ipv4.neigh.<if>.proxy_delay=0) on the listed
    interfaces of the host namespace, and optionally strict reverse-path filtering.
  - Values are read and written through C(/proc/sys), so interface names with dots (VLAN
    interfaces such as C(eth0.100)) work.
  - The kernel answers a proxied ARP request only for a target it has a route to through
    another interface.  For the container's gateway address (C(169.254.1.1)) use the
    O(crossnet.routed.veth_pair#module:pairs[].gateway) neighbour entry instead.
  - The default C(proxy_delay) of 80 jiffies holds the first packet of a new neighbour for up
    to 800 ms; the module sets it to 0.
  - Runtime values only; the interfaces are created again at boot anyway.
options:
  interfaces:
    description: Interface names in the host namespace.
    type: list
    elements: str
    required: true
  rp_filter:
    description:
      - Also set C(rp_filter=1) (strict) so that a container cannot send from an address that is
        not routed to its veth.  With O(state=absent), reset C(rp_filter) to 0.
    type: bool
    default: false
  state:
    description:
      - V(present) sets C(proxy_arp=1), C(proxy_delay=0) (and C(rp_filter=1)).
      - V(absent) restores the kernel defaults C(proxy_arp=0), C(proxy_delay=80) (and C(rp_filter=0)).
    type: str
    choices: [present, absent]
    default: present
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
  - An interface that does not exist makes the module fail with O(state=present) (in check mode
    it is reported as a change, since an earlier task may create it) and is skipped with
    O(state=absent).
seealso:
  - module: crossnet.routed.veth_pair
author:
  - crossnet.routed contributors (@crossnet)
"""

EXAMPLES = r"""
- name: Proxy ARP on the host ends of the container veths
  crossnet.routed.proxy_arp:
    interfaces: "{{ plan.proxy_arp_interfaces }}"
    rp_filter: true

- name: Back to the kernel defaults
  crossnet.routed.proxy_arp:
    interfaces: [cnr4f2a9c01be7]
    state: absent
"""

RETURN = r"""
interfaces:
  description: Each listed interface with its sysctl values before and after (before is null for a missing interface in check mode).
  returned: always
  type: list
  elements: dict
  sample:
    - name: cnr4f2a9c01be7
      before: {proxy_arp: 0, proxy_delay: 80, rp_filter: 0}
      after: {proxy_arp: 1, proxy_delay: 0, rp_filter: 1}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crossnet.routed.plugins.module_utils import sysctl
from ansible_collections.crossnet.routed.plugins.module_utils.failure import exit_with


def main():
    module = AnsibleModule(
        argument_spec=dict(
            interfaces=dict(type="list", elements="str", required=True),
            rp_filter=dict(type="bool", default=False),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    exit_with(module, lambda: sysctl.run(module.params, module.check_mode, module._diff))


if __name__ == "__main__":
    main()
