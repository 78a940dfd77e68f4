#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: veth_pair
short_description: Connect network namespaces to the host with veth pairs
version_added: "0.1.0"
description:
  - Creates veth pairs whose host end stays in the host's network namespace and whose peer end
    lives in a named namespace (a container), with the peer's IPv4 and IPv6 addresses, the MTU
    of both ends, both ends up, and, for a pair with a gateway (IPv4) or O(pairs[].gateway6)
    (IPv6), a permanent neighbour entry for the gateway and the container's routes through it
    (as CNI's ptp plugin does).
  - Brings the loopback interface C(lo) up in every namespace it configures.
  - A pair can instead connect a namespace that a container runtime made (O(pairs[].netns_path),
    for example C(/proc/<pid>/ns/net)).  The module wires it like a named one and never
    creates or deletes it.
  - The host end carries the link alias C(crossnet:<netns>); only links with that alias are
    deleted by O(state=absent) or O(purge).  The kernel cannot set the alias in the request that
    creates the link, so the module records the name of each host end in
    C(<state_dir>/veth.json) before creating it and forgets it once the alias is set; a recorded
    link without alias (left by a run that was killed in between) counts as the module's own.
  - A pair that exists with a wrong peer name or namespace is rebuilt; wrong addresses, MTU,
    link state, gateway neighbour or gateway routes are repaired in place.
  - All pairs are reconciled in one call.  The host's links are read once; each namespace is
    entered once, with one netlink socket and one dump each of its links, addresses, neighbours
    and routes, and configured before the module goes on to the next.  A new pair is created
    with its peer already in its namespace under its name, in one request.
  - Host ends that disappear while the module runs (their namespace was removed, which takes
    the pair down) are not an error, so removing namespaces before purging pairs is safe and
    much faster at teardown (the kernel then removes the pairs in bulk).
options:
  pairs:
    description: The veth pairs.
    type: list
    elements: dict
    required: true
    suboptions:
      netns:
        description:
          - Namespace that holds the peer end (a name under C(/run/netns)).  It must exist.
          - With O(pairs[].netns_path), only the pair's name (the host end's alias and default
            name); the peer goes into the namespace of that path.
        type: str
        required: true
      netns_path:
        description:
          - The file of an existing network namespace made by a container runtime, for example
            C(/proc/<pid>/ns/net) or C(/run/netns/<id>) (need not be a mount point).  The peer is
            moved into it and configured there as in a named namespace.
          - An absolute, normalised path without C(..).  The module never creates or deletes
            that namespace; deleting the pair (O(state=absent), O(purge)) deletes only the
            veth.
          - With O(state=present) a path that does not exist (the container is not running),
            that is not a network namespace or that is the host's own namespace fails the
            module naming the pair and the path, in check mode too.
          - Two paths (or a path and a name) of one namespace are refused.
        type: str
      host_ifname:
        description:
          - Name of the host end (at most 15 characters).
          - Default C(cnr) followed by 11 hex digits of C(sha1("<netns>/<peer_ifname>")).
        type: str
      peer_ifname:
        description: Name of the peer end inside O(pairs[].netns).
        type: str
        default: eth0
      addresses:
        description:
          - IPv4 and IPv6 addresses of the peer end; a bare address means C(/32) or C(/128).
          - IPv6 addresses are added with C(nodad), usable at once (duplicate address detection
            would hold them back for a second).
          - Other addresses on the peer end are removed, except the IPv6 link-local ones the
            kernel gives every interface.
        type: list
        elements: str
        default: []
      mtu:
        description: MTU of both ends.  Left as it is when not given.
        type: int
      gateway:
        description:
          - IPv4 address the container uses as its gateway (usually C(169.254.1.1)).
          - The module installs a permanent neighbour entry for it on the peer end, pointing at
            the MAC of the host end.  Proxy ARP alone is not enough, because the kernel answers ARP only
            for addresses it has a route to through another interface, and a host without a
            default route has none for C(169.254.1.1).
          - It also installs, in table C(main) of the namespace and with route protocol C(157)
            (C(crossnet)), the route C(<gateway>/32 dev <peer> scope link) and the default route
            C(default via <gateway> dev <peer>).  A route to either destination with another
            protocol makes the module fail unless O(adopt=true).
          - At most one pair per namespace can have a gateway.
        type: str
      gateway6:
        description:
          - IPv6 link-local address the container uses as its IPv6 gateway (usually C(fe80::1)).
          - As for O(pairs[].gateway), a permanent neighbour entry on the peer end points it at
            the MAC of the host end, so no neighbour discovery (and no proxy NDP) is needed for
            it, and the default route C(default via <gateway6> dev <peer> metric 1024) is
            installed with protocol C(157).  A link-local gateway needs no route of its own.
          - At most one pair per namespace can have a gateway6.
        type: str
  state:
    description: V(present) creates and repairs the pairs; V(absent) deletes them.
    type: str
    choices: [present, absent]
    default: present
  purge:
    description:
      - With O(state=present), delete host links carrying a C(crossnet:) alias that are not listed,
        and, in the namespaces of the listed pairs, routes of protocol C(157) other than the
        gateway routes of their pairs and permanent neighbour entries pointing at the host end
        for an address that is no longer the pair's O(pairs[].gateway) or O(pairs[].gateway6).
    type: bool
    default: false
  adopt:
    description:
      - A listed host link that exists without the C(crossnet:) alias (and is not recorded as
        being created by this module) makes the module fail, unless O(adopt=true), which takes
        the veth over (sets the alias).  The same goes for a container route to the gateway or the
        default route with a protocol other than C(157).
    type: bool
    default: false
  state_dir:
    description:
      - Directory of the collection's state files (C(veth.json) exists only while creations are
        not yet marked).
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
seealso:
  - module: crossnet.routed.netns
  - module: crossnet.routed.host_route
  - module: crossnet.routed.proxy_arp
author:
  - crossnet.routed contributors (@crossnet)
"""

EXAMPLES = r"""
- name: A veth pair per container, gateway 169.254.1.1 resolved without ARP
  crossnet.routed.veth_pair:
    pairs:
      - netns: web1
        addresses: [10.0.0.1]
        mtu: 1500
        gateway: 169.254.1.1
      - netns: db1
        host_ifname: vdb1
        peer_ifname: eth0
        addresses: [10.0.0.2/32]
        gateway: 169.254.1.1
      - netns: v6only
        addresses: ["fd10:1::7"]
        gateway6: "fe80::1"
      - netns: dual
        addresses: [10.0.0.3, "fd10:1::3"]
        gateway: 169.254.1.1
        gateway6: "fe80::1"
    purge: true

- name: Wire a namespace a container runtime made (its process's namespace file)
  crossnet.routed.veth_pair:
    pairs:
      - netns: app1
        netns_path: "/proc/{{ app1_pid }}/ns/net"
        addresses: [10.0.0.3]
        gateway: 169.254.1.1

- name: Delete a pair
  crossnet.routed.veth_pair:
    pairs:
      - netns: web1
    state: absent
"""

RETURN = r"""
pairs:
  description: The listed pairs with their defaults filled in and the MAC of the host end.
  returned: always
  type: list
  elements: dict
  sample:
    - host_ifname: cnr4f2a9c01be7
      netns: web1
      peer_ifname: eth0
      addresses: [10.0.0.1/32]
      mtu: 1500
      gateway: 169.254.1.1
      gateway6: null
      mac: "6a:3c:11:2e:90:0d"
created:
  description: Host ends of the pairs created (or rebuilt).
  returned: always
  type: list
  elements: str
  sample: [cnr4f2a9c01be7]
removed:
  description: Host ends of the pairs deleted.
  returned: always
  type: list
  elements: str
  sample: []
changed_pairs:
  description: Host ends of existing pairs that were repaired or rebuilt.
  returned: always
  type: list
  elements: str
  sample: []
loopback_up:
  description: Namespaces whose C(lo) was down and was brought up.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crossnet.routed.plugins.module_utils import requirements
from ansible_collections.crossnet.routed.plugins.module_utils import veth
from ansible_collections.crossnet.routed.plugins.module_utils.failure import exit_with


def main():
    module = AnsibleModule(
        argument_spec=dict(
            pairs=dict(type="list", elements="dict", required=True, options=dict(
                netns=dict(type="str", required=True),
                netns_path=dict(type="str"),
                host_ifname=dict(type="str"),
                peer_ifname=dict(type="str", default="eth0"),
                addresses=dict(type="list", elements="str", default=[]),
                mtu=dict(type="int"),
                gateway=dict(type="str"),
                gateway6=dict(type="str"),
            )),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            purge=dict(type="bool", default=False),
            adopt=dict(type="bool", default=False),
            state_dir=dict(type="path", default="/var/lib/crossnet"),
        ),
        supports_check_mode=True,
    )
    requirements.require(module, "pyroute2", "netaddr")
    exit_with(module, lambda: veth.run(module.params, module.check_mode, module._diff))


if __name__ == "__main__":
    main()
