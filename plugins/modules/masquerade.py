#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: masquerade
short_description: Masquerade container traffic that leaves the container network
description:
  - Keeps the nat chain C(CROSSNET-POSTROUTING) holding one C(-d <exclude> -j RETURN) rule per
    O(exclude) network followed by one C(-s <source> [-o <out_interface>] -j MASQUERADE) rule per
    O(sources) network, and keeps exactly one jump to it from C(POSTROUTING), tagged
    C(-m comment --comment crossnet) and inserted at position 1 when it is missing.
  - The chain is written in one C(iptables-restore --noflush) transaction that flushes and
    refills only this chain.  No other chain, rule or policy is read back into the kernel or
    changed.
  - Drift is repaired (a chain flushed or edited by hand, a deleted jump, duplicate jumps).
    The position of an existing jump is left alone, so other tools that insert their own rules
    at the top of C(POSTROUTING) are not fought over.
  - IPv4 and IPv6.  O(sources) and O(exclude) may mix both families.  IPv4 entries go to the
    iptables nat chain, IPv6 entries to the ip6tables nat chain of the same name
    (C(ip6tables-save) and C(ip6tables-restore) of the same backend), built the same way.  A family
    without sources has no chain (an existing one of ours is removed), whatever O(exclude) holds.
  - A host without ip6tables, or whose kernel has IPv6 disabled, is left alone on the IPv6 side
    as long as no IPv6 source is asked for; an IPv6 source there is an error.
version_added: "0.1.0"
author:
  - crossnet.routed contributors (@crossnet)
options:
  sources:
    description:
      - Source networks (CIDR, or a bare address meaning /32 or, for IPv6, /128) whose traffic is
        masqueraded.  IPv4 and IPv6 entries may be mixed.
      - Host bits are cleared, as iptables does (V(10.0.0.5/23) becomes V(10.0.0.0/23),
        V(fd00:1::5/64) becomes V(fd00:1::/64)).
    type: list
    elements: str
    default: []
  exclude:
    description:
      - Destination networks that are never masqueraded, typically the whole container network
        of every host, so that container-to-container traffic keeps its source address.
      - IPv4 and IPv6 entries may be mixed; each family's entries go to its own chain.
    type: list
    elements: str
    default: []
  out_interface:
    description:
      - Only masquerade traffic leaving through this interface (C(-o)); V(eth+) style wildcards
        work.  Default is any interface.  Applies to both families.
    type: str
  backend:
    description:
      - Which iptables backend to write to.
      - V(auto) uses the backend the host's C(iptables) command reports with C(iptables -V) (for
        IPv6 the one C(ip6tables -V) reports), so the rules land where the host's own tools look.
      - V(nft) and V(legacy) need the C(iptables-nft-save)/C(iptables-nft-restore) and
        C(iptables-legacy-save)/C(iptables-legacy-restore) commands, and for IPv6 their
        C(ip6tables-) counterparts.
    type: str
    choices: [auto, nft, legacy]
    default: auto
  adopt:
    description:
      - The module owns C(CROSSNET-POSTROUTING) when it created it (recorded in
        O(state_dir)/iptables.json before the chain is created) or when the C(POSTROUTING) jump to
        it carries the comment C(crossnet) (only this module writes that jump, so a lost state
        directory does not orphan the chain).  Each family's chain is judged on its own.
      - V(false) (default) fails, naming the chain, when a chain of that name exists that the
        module does not own, and changes nothing in either family.  V(true) takes it over (its
        rules are replaced and it is recorded).
    type: bool
    default: false
  state_dir:
    description:
      - Directory of the collection's state files.  C(iptables.json) there records the chains
        the collection created and, for the nft backend, whether the nat table existed before
        (IPv4 chains under the backend's name, IPv6 ones under C(nft-ip6) or C(legacy-ip6)).
    type: path
    default: /var/lib/crossnet
  state:
    description:
      - V(present) writes the chain and the jump.
      - V(absent) deletes our jumps and our chains in both families, nothing else; O(sources)
        and O(exclude) are ignored.  The records go from O(state_dir)/iptables.json (the file
        goes when it is empty).  On the nft backend, a nat table (C(ip nat) or C(ip6 nat)) that
        did not exist before the module created the chain is deleted again when nothing but empty
        built-in chains with policy ACCEPT is left in it (needs the C(nft) command).
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads the nat tables and predicts the change without writing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: >-
      Before and after are our jump and our chain's rules as iptables-save lines; when the IPv6
      chain is involved, each family's lines follow a comment line naming its table.
requirements:
  - iptables (nft or legacy) with iptables-save and iptables-restore
  - ip6tables-save and ip6tables-restore for IPv6 sources (Debian's iptables package has them)
  - netaddr
notes:
  - Run as root.  The module acts in the network namespace it runs in.
  - A rule elsewhere that jumps to C(CROSSNET-POSTROUTING) makes V(absent) fail, as the chain is
    still in use.
  - IPv6 masquerading needs the kernel's IPv6 NAT (C(ip6table_nat) or nftables' C(nft_chain_nat)
    for the C(ip6) family), as in every Linux kernel since 3.7.
  - With the legacy backend the nat table belongs to a kernel module and stays after V(absent).
  - Every write is read back; a chain that another writer changed between the module's read and
    its write is written again from a fresh read (up to three times).
seealso:
  - module: crossnet.routed.forwarding
"""

EXAMPLES = r"""
- name: Masquerade this host's containers, except towards the container network
  crossnet.routed.masquerade:
    sources: [10.0.0.0/26]
    exclude: [10.0.0.0/23]

- name: Dual stack, each family's containers masqueraded except towards its container network
  crossnet.routed.masquerade:
    sources: [10.0.0.0/26, "fd00:0:0:1::/64"]
    exclude: [10.0.0.0/23, "fd00::/48"]

- name: Masquerade only what leaves through the uplink, on a legacy-iptables host
  crossnet.routed.masquerade:
    sources: [10.0.0.1, 10.0.0.2]
    exclude: [10.0.0.0/23]
    out_interface: eth0
    backend: legacy

- name: Take over a CROSSNET-POSTROUTING chain made by hand before the collection was used
  crossnet.routed.masquerade:
    sources: [10.0.0.0/26]
    exclude: [10.0.0.0/23]
    adopt: true

- name: Remove the chains and their jumps (both families)
  crossnet.routed.masquerade:
    state: absent
"""

RETURN = r"""
rules:
  description:
    - The rules of C(CROSSNET-POSTROUTING) after the run (predicted in check mode), as
      iptables-save prints them.
  returned: always
  type: list
  elements: str
  sample:
    - -A CROSSNET-POSTROUTING -d 10.0.0.0/23 -j RETURN
    - -A CROSSNET-POSTROUTING -s 10.0.0.0/26 -j MASQUERADE
rules6:
  description:
    - The rules of the ip6tables C(CROSSNET-POSTROUTING) after the run (predicted in check mode),
      as ip6tables-save prints them.  Empty when there is none, or the host has no ip6tables.
  returned: always
  type: list
  elements: str
  sample:
    - -A CROSSNET-POSTROUTING -d fd00::/48 -j RETURN
    - -A CROSSNET-POSTROUTING -s fd00:0:0:1::/64 -j MASQUERADE
backend:
  description: The iptables backend used.
  returned: always
  type: str
  sample: nft
chain:
  description: The chain the module owns (in each family).
  returned: always
  type: str
  sample: CROSSNET-POSTROUTING
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crossnet.routed.plugins.module_utils import requirements
from ansible_collections.crossnet.routed.plugins.module_utils import masquerade
from ansible_collections.crossnet.routed.plugins.module_utils.failure import exit_with
from ansible_collections.crossnet.routed.plugins.module_utils.statefile import DEFAULT_STATE_DIR


def main():
    module = AnsibleModule(
        argument_spec=dict(
            sources=dict(type="list", elements="str", default=[]),
            exclude=dict(type="list", elements="str", default=[]),
            out_interface=dict(type="str"),
            backend=dict(type="str", choices=["auto", "nft", "legacy"], default="auto"),
            adopt=dict(type="bool", default=False),
            state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    requirements.require(module, "netaddr")
    exit_with(module, lambda: masquerade.run(module, module.params, module.check_mode, module._diff))


if __name__ == "__main__":
    main()
