#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: forwarding
short_description: Let the host route container traffic (IPv4 and IPv6 forwarding, FORWARD accept chains)
description:
  - Sets C(net.ipv4.ip_forward=1) at runtime and persists it in O(sysctl_file).  The value it had
    before the module first changed anything is kept in O(state_dir)/forwarding.json, and
    V(absent) puts it back.
  - When O(container_networks) holds an IPv6 network, also sets
    C(net.ipv6.conf.all.forwarding=1) (runtime, and a line in O(sysctl_file)), its prior value
    kept and put back the same way, on V(absent) and as soon as no IPv6 network is listed.
  - Keeps the filter chain C(CROSSNET-FORWARD) holding C(-s <net> -j ACCEPT) and
    C(-d <net> -j ACCEPT) for every O(container_networks) entry, and exactly one jump to it from
    C(FORWARD), tagged C(-m comment --comment crossnet) and inserted at position 1 when missing.
    Container traffic therefore flows even when the C(FORWARD) policy is C(DROP); the policy
    itself is never changed.  IPv6 networks get the same rules in the ip6tables chain of the
    same name; without IPv6 networks there is no such chain.
  - With IPv6 forwarding on, the kernel ignores router advertisements on an interface whose
    C(accept_ra) is 1, and drops the default routes it learnt from them when forwarding goes on;
    a host whose IPv6 default route comes from RA would lose it.  So each
    O(accept_ra_interfaces) entry whose C(accept_ra) is 1 is set to 2 first (runtime, and a line
    in O(sysctl_file)), its prior value recorded and put back when it is no longer listed, when
    no IPv6 network is listed, and on V(absent).  An interface at 0 or 2 is left alone.
  - IPv6 has no C(rp_filter).  For each O(source_check_interfaces) entry the ip6tables raw chain
    C(CROSSNET-PREROUTING), jumped to from raw C(PREROUTING) with the same comment, holds
    C(-i <interface> -m rpfilter --invert -j DROP), which drops a packet whose source the host
    would not route back out through the interface it came in on (a container forging another
    source address).  Without entries there is no such chain.
  - Each chain is written in one C(iptables-restore --noflush) (C(ip6tables-restore)) transaction
    that flushes and refills only that chain; no other rule, chain or policy is changed.  Drift (a flushed chain,
    a deleted or duplicated jump) is repaired.  The position of an existing jump is left alone.
  - A host without ip6tables, or whose kernel has IPv6 disabled, is left alone on the IPv6 side
    as long as no IPv6 network and no source check is asked for.
version_added: "0.1.0"
author:
  - crossnet.routed contributors (@crossnet)
options:
  container_networks:
    description:
      - Networks (CIDR, or a bare address meaning /32 or, for IPv6, /128) whose forwarded
        traffic is accepted, in both directions.  IPv4 and IPv6 entries may be mixed.
      - Any IPv6 entry turns IPv6 forwarding on.
    type: list
    elements: str
    default: []
  accept_ra_interfaces:
    description:
      - Interfaces (typically the uplink) whose C(accept_ra) is raised from 1 to 2 while IPv6
        forwarding is on, so that they keep learning their default route from router
        advertisements.
      - Ignored when O(container_networks) holds no IPv6 network.  An interface that does not
        exist is left alone.
    type: list
    elements: str
    default: []
  source_check_interfaces:
    description:
      - Interfaces (the host sides of the containers' veth pairs) on which IPv6 packets with a
        source the host would not route back through them are dropped, in the ip6tables raw
        chain C(CROSSNET-PREROUTING).  Names may end in V(+) as in iptables.
    type: list
    elements: str
    default: []
  sysctl_file:
    description:
      - File that persists C(net.ipv4.ip_forward = 1), and with IPv6
        C(net.ipv6.conf.all.forwarding = 1) and each C(net.ipv6.conf.<interface>.accept_ra = 2)
        the module set, across reboots (a dot in an interface name is written as a slash, as
        sysctl.d expects).  The module owns the whole file.
    type: path
    default: /etc/sysctl.d/60-crossnet.conf
  state_dir:
    description:
      - Directory of the collection's state files.  C(forwarding.json) there keeps the prior
        C(ip_forward), IPv6 C(forwarding) and per-interface C(accept_ra) values;
        C(iptables.json) records the chains the collection created and, for the nft backend,
        whether their table existed before.
    type: path
    default: /var/lib/crossnet
  adopt:
    description:
      - The module owns C(CROSSNET-FORWARD) (and the IPv6 C(CROSSNET-FORWARD) and
        C(CROSSNET-PREROUTING)) when it created it (recorded in O(state_dir)/iptables.json before
        the chain is created) or when the jump to it carries the comment C(crossnet) (only this
        module writes that jump, so a lost state directory does not orphan the chain).
      - V(false) (default) fails, naming the chain, when a chain of that name exists that the
        module does not own, and changes nothing (no chain, no sysctl, no file).  V(true) takes
        it over (its rules are replaced and it is recorded).
    type: bool
    default: false
  backend:
    description:
      - Which iptables backend to write to.  V(auto) uses the one the host's C(iptables -V)
        reports (for IPv6 C(ip6tables -V)); V(nft) and V(legacy) need
        C(iptables-nft-save)/C(iptables-nft-restore) and
        C(iptables-legacy-save)/C(iptables-legacy-restore), and for IPv6 their C(ip6tables-)
        counterparts.
    type: str
    choices: [auto, nft, legacy]
    default: auto
  state:
    description:
      - V(present) enables forwarding and writes the chains and their jumps.
      - V(absent) restores every recorded value (C(ip_forward), IPv6 C(forwarding), each
        C(accept_ra); only those the module changed), deletes O(sysctl_file), the state file, our
        jumps and our chains in both families, and their records in O(state_dir)/iptables.json
        (the file goes when it is empty).  On the nft backend, a table (C(ip filter),
        C(ip6 filter), C(ip6 raw)) that did not exist before the module created the chain is
        deleted again when nothing but empty built-in chains with policy ACCEPT is left in it
        (needs the C(nft) command).
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads the tables, the sysctls and the files, and predicts the change without writing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: >-
      Before and after show the runtime values (C(net.ipv4.ip_forward), and when IPv6 is involved
      C(net.ipv6.conf.all.forwarding) and each O(accept_ra_interfaces) entry's C(accept_ra)), the
      sysctl file and our lines of each table.
requirements:
  - iptables (nft or legacy) with iptables-save and iptables-restore
  - ip6tables-save and ip6tables-restore for IPv6 networks and source checks (Debian's iptables
    package has them), and the kernel's C(rpfilter) match for source checks
  - netaddr
notes:
  - Run as root.  C(net.ipv4.ip_forward) and the chain belong to the network namespace the
    module runs in.
  - Writing C(ip_forward) also resets the per-interface C(forwarding) switches, as the kernel
    does for C(sysctl -w net.ipv4.ip_forward=1); writing C(net.ipv6.conf.all.forwarding) does the
    same for every interface's IPv6 C(forwarding).
  - At boot, a per-interface C(accept_ra) line in O(sysctl_file) applies when the interface
    appears (systemd's udev rule runs C(systemd-sysctl) for it).
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

- name: Dual stack, keeping the uplink's RA default route, IPv6 source check on the containers
  crossnet.routed.forwarding:
    container_networks: [10.0.0.0/23, "fd00::/48"]
    accept_ra_interfaces: [eth0]
    source_check_interfaces: [cnr+]

- name: Undo it (restores the previous ip_forward, IPv6 forwarding and accept_ra values)
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
rules6:
  description:
    - The rules of the ip6tables chains after the run (predicted in check mode), C(CROSSNET-FORWARD)
      (filter) then C(CROSSNET-PREROUTING) (raw).  Empty when there are none, or the host has no
      ip6tables.
  returned: always
  type: list
  elements: str
  sample:
    - -A CROSSNET-FORWARD -s fd00::/48 -j ACCEPT
    - -A CROSSNET-FORWARD -d fd00::/48 -j ACCEPT
    - -A CROSSNET-PREROUTING -i cnr+ -m rpfilter --invert -j DROP
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
ipv6_forwarding:
  description:
    - C(net.ipv6.conf.all.forwarding) after the run (predicted in check mode); null when the
      kernel has IPv6 disabled.
  returned: always
  type: str
  sample: "1"
prior_ipv6_forwarding:
  description: The IPv6 forwarding value recorded before the module first changed it, if any.
  returned: always
  type: str
  sample: "0"
accept_ra:
  description:
    - Per interface of O(accept_ra_interfaces) and of those the module changed earlier, its
      C(accept_ra) before and after the run (null when the interface does not exist) and the
      recorded prior value (null when the module never changed it).
  returned: always
  type: dict
  sample:
    eth0:
      before: "1"
      after: "2"
      prior: "1"
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
            accept_ra_interfaces=dict(type="list", elements="str", default=[]),
            source_check_interfaces=dict(type="list", elements="str", default=[]),
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
