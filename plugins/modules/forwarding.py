#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: forwarding
short_description: Let the host route container traffic (ip_forward and a FORWARD accept chain)
description:
  - Sets C(net.ipv4.ip_forward=1) at runtime and persists it in O(sysctl_file).  The value it had
    before the module first changed anything is kept in O(state_dir)/forwarding.json, and
    V(absent) puts it back.
  - Keeps the filter chain C(CROSSNET-FORWARD) holding C(-s <net> -j ACCEPT) and
    C(-d <net> -j ACCEPT) for every O(container_networks) entry, and exactly one jump to it from
    C(FORWARD), tagged C(-m comment --comment crossnet) and inserted at position 1 when missing.
    Container traffic therefore flows even when the C(FORWARD) policy is C(DROP); the policy
    itself is never changed.
  - The chain is written in one C(iptables-restore --noflush) transaction that flushes and
    refills only this chain; no other rule, chain or policy is changed.  Drift (a flushed chain,
    a deleted or duplicated jump) is repaired.  The position of an existing jump is left alone.
  - IPv4 only.
version_added: "0.1.0"
author:
  - crossnet.routed contributors (@crossnet)
options:
  container_networks:
    description:
      - Networks (CIDR, or a bare address meaning /32) whose forwarded traffic is accepted, in
        both directions.
    type: list
    elements: str
    default: []
  sysctl_file:
    description:
      - File that persists C(net.ipv4.ip_forward = 1) across reboots.  The module owns the whole
        file.
    type: path
    default: /etc/sysctl.d/60-crossnet.conf
  state_dir:
    description:
      - Directory of the collection's state files.  C(forwarding.json) there keeps the prior
        C(ip_forward) value; C(iptables.json) records the chains the collection created and, for
        the nft backend, whether the filter table existed before.
    type: path
    default: /var/lib/crossnet
  adopt:
    description:
      - The module owns C(CROSSNET-FORWARD) when it created it (recorded in
        O(state_dir)/iptables.json before the chain is created) or when the C(FORWARD) jump to it
        carries the comment C(crossnet) (only this module writes that jump, so a lost state
        directory does not orphan the chain).
      - V(false) (default) fails, naming the chain, when a chain of that name exists that the
        module does not own, and changes nothing.  V(true) takes it over (its rules are replaced
        and it is recorded).
    type: bool
    default: false
  backend:
    description:
      - Which iptables backend to write to.  V(auto) uses the one the host's C(iptables -V)
        reports; V(nft) and V(legacy) need C(iptables-nft-save)/C(iptables-nft-restore) and
        C(iptables-legacy-save)/C(iptables-legacy-restore).
    type: str
    choices: [auto, nft, legacy]
    default: auto
  state:
    description:
      - V(present) enables forwarding and writes the chain and the jump.
      - V(absent) restores the recorded C(ip_forward) value (if the module ever changed it),
        deletes O(sysctl_file), the state file, our jump and our chain, and the chain's record in
        O(state_dir)/iptables.json (the file goes when it is empty).  On the nft backend, a filter
        table that did not exist before the module created the chain is deleted again when
        nothing but empty built-in chains with policy ACCEPT is left in it (needs the C(nft)
        command).
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads the filter table, ip_forward and the files, and predicts the change without writing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Before and after show the runtime value, the sysctl file and our iptables lines.
requirements:
  - iptables (nft or legacy) with iptables-save and iptables-restore
  - netaddr
notes:
  - Run as root.  C(net.ipv4.ip_forward) and the chain belong to the network namespace the
    module runs in.
  - Writing C(ip_forward) also resets the per-interface C(forwarding) switches, as the kernel
    does for C(sysctl -w net.ipv4.ip_forward=1).
  - With the legacy backend the filter table belongs to a kernel module and stays after
    V(absent).
  - Every write is read back; a chain that another writer changed between the module's read and
    its write is written again from a fresh read (up to three times).
seealso:
  - module: crossnet.routed.masquerade
  - module: ansible.posix.sysctl
"""

EXAMPLES = r"""
- name: Route this host's containers even with a FORWARD policy of DROP
  crossnet.routed.forwarding:
    container_networks: [10.0.0.0/23]

- name: Undo it (restores the previous ip_forward value)
  crossnet.routed.forwarding:
    state: absent
"""

RETURN = r"""
rules:
  description: The rules of C(CROSSNET-FORWARD) after the run (predicted in check mode).
  returned: always
  type: list
  elements: str
  sample:
    - -A CROSSNET-FORWARD -s 10.0.0.0/23 -j ACCEPT
    - -A CROSSNET-FORWARD -d 10.0.0.0/23 -j ACCEPT
ip_forward:
  description: C(net.ipv4.ip_forward) after the run (predicted in check mode).
  returned: always
  type: str
  sample: "1"
prior_ip_forward:
  description: The value recorded before the module's first change, if any.
  returned: always
  type: str
  sample: "0"
backend:
  description: The iptables backend used.
  returned: always
  type: str
  sample: nft
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crossnet.routed.plugins.module_utils import requirements
from ansible_collections.crossnet.routed.plugins.module_utils import forwarding
from ansible_collections.crossnet.routed.plugins.module_utils.failure import exit_with
from ansible_collections.crossnet.routed.plugins.module_utils.statefile import DEFAULT_STATE_DIR


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container_networks=dict(type="list", elements="str", default=[]),
            sysctl_file=dict(type="path", default=forwarding.DEFAULT_SYSCTL_FILE),
            state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
            adopt=dict(type="bool", default=False),
            backend=dict(type="str", choices=["auto", "nft", "legacy"], default="auto"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    requirements.require(module, "netaddr")
    exit_with(module, lambda: forwarding.run(module, module.params, module.check_mode, module._diff))


if __name__ == "__main__":
    main()
