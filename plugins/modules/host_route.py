#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: host_route
short_description: Manage IPv4 and IPv6 routes to containers and peer hosts, on the host and in namespaces
version_added: "0.1.0"
description:
  - Installs IPv4 and IPv6 routes in table C(main) of the host's network namespace or of a named
    namespace, such as the C(/32) route to each container through its host-side veth and routes to other
    hosts' container networks.
  - The container-side routes (the gateway on link, the default route through it) are
    installed by M(crossnet.routed.veth_pair) from the pair's C(gateway), in the same visit of
    the namespace as its addresses; O(routes[].netns) remains for other routes in a namespace.
  - Every route the module installs carries route protocol C(157), named C(crossnet) in
    C(/etc/iproute2/rt_protos.d/crossnet.conf) when that directory exists, so
    C(ip route show proto crossnet) lists them.  With O(purge=true) or O(state=absent), the
    module deletes that file once no route of protocol C(157) is left in the host's namespace
    (the diff shows it as C(protocol_name_file)).  Only routes with protocol C(157) are ever
    replaced, deleted or purged; a route to a listed destination with any other protocol
    (C(kernel), C(boot), C(static), or a routing daemon's) is foreign.
  - A route is identified by namespace, destination and metric.  A listed route of ours whose
    gateway, device, scope or onlink flag differ is replaced.
  - All routes are reconciled in one call, with one netlink socket and one route dump per namespace.
options:
  routes:
    description: The routes.
    type: list
    elements: dict
    required: true
    suboptions:
      dest:
        description:
          - Destination in CIDR notation, IPv4 or IPv6; a bare address means C(/32) or C(/128),
            V(default) means C(0.0.0.0/0) (the IPv6 default is C(::/0)).
        type: str
        required: true
      gateway:
        description: Next-hop address, of the destination's family.
        type: str
      dev:
        description: Outgoing interface (in O(routes[].netns)).  Required when there is no gateway.
        type: str
      scope:
        description:
          - Route scope.  Default V(link) without a gateway, V(universe) with one.
          - The kernel keeps no scope for IPv6 routes; it is ignored for them.
        type: str
        choices: [universe, link, host]
      onlink:
        description: Treat the gateway as reachable on O(routes[].dev) even without a route to it.
        type: bool
        default: false
      metric:
        description:
          - Route metric (priority).
          - The kernel stores metric 0 of an IPv6 route as 1024 (as C(ip -6 route) does), so 0 means
            1024 for IPv6 destinations.
        type: int
        default: 0
      netns:
        description: Named namespace of the route.  Default the host's namespace.
        type: str
  state:
    description: V(present) installs the routes; V(absent) deletes them.
    type: str
    choices: [present, absent]
    default: present
  purge:
    description:
      - With O(state=present), delete routes of protocol C(157) that are not listed, in the host
        namespace and in every namespace named in O(routes).
      - Routes of other protocols are never purged.
    type: bool
    default: false
  adopt:
    description:
      - A route to a listed destination with another protocol makes the module fail, unless
        O(adopt=true), which replaces it with ours (protocol C(157)).
    type: bool
    default: false
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
  - Routes on a veth disappear with it; a namespace removed while the module runs does not make
    it fail.
  - In check mode a namespace or device that does not exist yet (because an earlier task would
    have created it) is reported as a route to add, not as an error.
seealso:
  - module: crossnet.routed.veth_pair
author:
  - crossnet.routed contributors (@crossnet)
"""

EXAMPLES = r"""
- name: Host routes to two containers and to a peer host's containers
  crossnet.routed.host_route:
    routes:
      - dest: 10.0.0.1/32
        dev: cnr4f2a9c01be7
      - dest: 10.0.0.2
        dev: cnr0b1e5d77a42
      - dest: 10.0.1.0/30
        gateway: 192.168.9.4
        dev: eth0
    purge: true

# veth_pair installs a container's gateway and default routes; other routes in a namespace:
- name: A route inside a container's namespace
  crossnet.routed.host_route:
    routes:
      - netns: web1
        dest: 10.96.0.0/12
        gateway: 169.254.1.1
        dev: eth0
"""

RETURN = r"""
routes:
  description: The listed routes with their defaults filled in.
  returned: always
  type: list
  elements: dict
  sample:
    - {netns: null, dest: 10.0.0.1/32, gateway: null, dev: cnr4f2a9c01be7, scope: link, onlink: false, metric: 0}
added:
  description: Routes added.
  returned: always
  type: list
  elements: dict
  sample: []
removed:
  description: Routes deleted (O(state=absent) or O(purge)).
  returned: always
  type: list
  elements: dict
  sample: []
replaced:
  description: Routes of ours changed to the listed next hop, or foreign routes adopted.
  returned: always
  type: list
  elements: dict
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crossnet.routed.plugins.module_utils import requirements
from ansible_collections.crossnet.routed.plugins.module_utils import routes
from ansible_collections.crossnet.routed.plugins.module_utils.failure import exit_with


def main():
    module = AnsibleModule(
        argument_spec=dict(
            routes=dict(type="list", elements="dict", required=True, options=dict(
                dest=dict(type="str", required=True),
                gateway=dict(type="str"),
                dev=dict(type="str"),
                scope=dict(type="str", choices=["universe", "link", "host"]),
                onlink=dict(type="bool", default=False),
                metric=dict(type="int", default=0),
                netns=dict(type="str"),
            )),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            purge=dict(type="bool", default=False),
            adopt=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    requirements.require(module, "pyroute2", "netaddr")
    exit_with(module, lambda: routes.run(module.params, module.check_mode, module._diff))


if __name__ == "__main__":
    main()
