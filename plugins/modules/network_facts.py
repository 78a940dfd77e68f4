#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: network_facts
short_description: The few network facts the crossnet planner needs, cheaply
description:
  - Sets C(ansible_facts.interfaces), C(ansible_facts.default_ipv4),
    C(ansible_facts.default_ipv6) and the entry of one interface (O(uplink), or the interface of
    the default IPv4 route), with its IPv4 and IPv6 addresses, in the same shape as
    M(ansible.builtin.setup) does, from a few netlink requests.
  - M(ansible.builtin.setup) describes every interface; on a host with a thousand containers
    that is two thousand veths and seconds of work on every run.  The O(uplink) entry is all the
    C(container_network) role reads, besides the interface names and the default route.
  - Only the uplink's entry is returned.  A play that needs the facts of other interfaces
    gathers them with M(ansible.builtin.setup), and the role then skips this module.
  - Also says what the collection's modules need and the host lacks (RV(missing)), without
    failing; when pyroute2 or netaddr is missing it returns no facts (and runs no preflight),
    only RV(missing).  The C(container_network) role runs the package manager only on a host
    that lacks something.  With O(gather=false) that is all it does.
version_added: "0.1.0"
author:
  - crossnet.routed contributors (@crossnet)
options:
  gather:
    description:
      - Gather the facts (and run the O(preflight) checks).  With V(false) the module only
        reports RV(missing) and returns no facts; the C(container_network) role asks so where
        the facts are not needed (teardown) or a play gathered them already.
    type: bool
    default: true
  uplink:
    description:
      - The interface to describe.  Default is the interface of the default IPv4 route; a host
        without one gets no interface entry.
    type: str
  preflight:
    description:
      - Also run the checks of M(crossnet.routed.preflight) with these arguments, in the same
        module run, and return their outcome in RV(preflight).  The module does not fail when
        a check fails; the caller decides (the C(container_network) role stops every host).
    type: dict
    suboptions:
      host:
        description: This host's name in messages.
        type: str
      uplink:
        description: As O(crossnet.routed.preflight#module:uplink).
        type: str
        required: true
      node_address:
        description: As O(crossnet.routed.preflight#module:node_address).
        type: str
        required: true
      node_address6:
        description: As O(crossnet.routed.preflight#module:node_address6).
        type: str
      peers:
        description: As O(crossnet.routed.preflight#module:peers).
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
            description: As O(crossnet.routed.preflight#module:peers[].address6).
            type: str
          overlay:
            description: As O(crossnet.routed.preflight#module:peers[].overlay).
            type: bool
            default: false
extends_documentation_fragment:
  - crossnet.routed.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: linux
requirements:
  - pyroute2
  - netaddr
"""

EXAMPLES = r"""
- name: Describe eth0, the interface names and the default route
  crossnet.routed.network_facts:
    uplink: eth0

- name: Only say what the host lacks
  crossnet.routed.network_facts:
    gather: false
  register: requirements

- name: Stop when something is missing
  ansible.builtin.assert:
    that: requirements.missing | length == 0
    fail_msg: "{{ inventory_hostname }} lacks {{ requirements.missing | join(', ') }}"
"""

RETURN = r"""
ansible_facts:
  description:
    - C(interfaces), C(default_ipv4), C(default_ipv6) and the uplink's entry, as setup names them; empty when
      nothing was gathered (O(gather=false), or pyroute2 or netaddr is missing).
  returned: always
  type: dict
  sample:
    interfaces: [eth0, lo]
    default_ipv4: {}
    default_ipv6: {}
    eth0:
      device: eth0
      mtu: 1500
      active: true
      macaddress: "0a:58:c0:a8:09:03"
      ipv4: {address: 192.168.9.3, netmask: 255.255.255.0, network: 192.168.9.0, prefix: "24"}
      ipv4_secondaries: []
      ipv6:
        - {address: "fd00:9::3", prefix: "64", scope: global}
        - {address: "fe80::858:c0ff:fea8:903", prefix: "64", scope: link}
missing:
  description:
    - What the collection's modules need and this host lacks, C([]) when nothing is missing;
      any of C(netaddr), C(pyroute2) (Python libraries, looked for in the interpreter the
      module runs under, which is the one every module of the collection runs under), C(iptables),
      C(nft) (commands, looked for on the PATH and in the sbin directories).
    - The module does not fail for them; the C(container_network) role installs what is missing
      (its C(crossnet_manage_packages)) or stops.
  returned: always
  type: list
  elements: str
  sample: [pyroute2, nft]
preflight:
  description:
    - With O(preflight), what was checked (C(checked), the arguments as given), the problems
      found (C(errors), empty when every check passed) and what the checks looked up.
  returned: when O(preflight) is given
  type: dict
  sample:
    checked: {uplink: eth0, node_address: 192.168.9.3, peers: [{host: host2, address: 192.168.9.4, overlay: false}]}
    errors: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crossnet.routed.plugins.module_utils import requirements
from ansible_collections.crossnet.routed.plugins.module_utils import netlink, preflight


def main():
    module = AnsibleModule(
        argument_spec=dict(
            gather=dict(type="bool", default=True),
            uplink=dict(type="str"),
            preflight=dict(type="dict", options=preflight.ARGUMENT_SPEC),
        ),
        supports_check_mode=True,
    )
    missing = requirements.missing(module)
    if not module.params["gather"] or any(library in missing for library in requirements.IMPORT_ERRORS):
        module.exit_json(changed=False, ansible_facts={}, missing=missing)
    from ansible_collections.crossnet.routed.plugins.module_utils import hostfacts

    wanted = module.params["preflight"]
    result = {}
    with netlink.Sockets() as sockets:
        facts = hostfacts.gather(sockets[None], module.params["uplink"])
        if wanted is not None:
            checked = {key: wanted[key] for key in ("uplink", "node_address", "node_address6", "peers")}
            looked_up, errors = preflight.check_params(sockets[None], wanted)
            result["preflight"] = dict(looked_up, checked=checked, errors=errors)
    module.exit_json(changed=False, ansible_facts=facts, missing=missing, **result)


if __name__ == "__main__":
    main()
