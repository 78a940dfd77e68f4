#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: host_network
short_description: Apply a host's whole part of the routed container network in one run
version_added: "0.1.0"
description:
  - Does, in one process on the host, what M(crossnet.routed.forwarding),
    M(crossnet.routed.netns), M(crossnet.routed.veth_pair), M(crossnet.routed.vxlan_tunnel),
    M(crossnet.routed.host_route), M(crossnet.routed.proxy_arp) and M(crossnet.routed.masquerade)
    do as separate tasks, in that order, with the same code, the same ownership marks and the
    same checks.  This is what the
    role C(crossnet.routed.container_network) runs, one task per host instead of six, which
    matters when a run's cost is mostly the per-task overhead of Ansible.
  - With O(state=present), every step purges what the collection created earlier and the
    options no longer list.  With O(state=absent), the steps run in reverse and remove
    everything the collection created on the host (masquerade chains, routes of protocol
    C(157), namespaces, veth pairs, VXLAN devices, forward and source-check chains, in both
    families), and ip_forward, IPv6 forwarding and the uplink's C(accept_ra) go back to their
    prior values.
  - The steps run under an exclusive lock on the host (flock on O(lock_path)); a second run
    waits up to O(lock_timeout) seconds and then fails, naming the holder.  The kernel releases
    the lock when the module's process ends, however it ends.
  - The first step that fails stops the run; the result names it and says which steps before
    it changed the host.
options:
  namespaces:
    description: Network namespaces of the containers (as O(crossnet.routed.netns#module:names)).
    type: list
    elements: str
    default: []
  veth_pairs:
    description:
      - The veth pairs, each a dict as in O(crossnet.routed.veth_pair#module:pairs) (C(netns),
        C(host_ifname), C(peer_ifname), C(addresses), C(mtu), C(gateway), C(netns_path)).
    type: list
    elements: dict
    default: []
  vxlan_tunnels:
    description:
      - The VXLAN overlay devices, each a dict as in O(crossnet.routed.vxlan_tunnel#module:tunnels)
        (C(name), C(vni), C(port), C(local), C(address), C(mac), C(mtu), C(peers)).  The planner
        gives at most one, only to a host with a peer it reaches through the overlay; devices of
        ours not listed are deleted.
    type: list
    elements: dict
    default: []
  routes:
    description:
      - Host routes, each a dict as in O(crossnet.routed.host_route#module:routes) (C(dest),
        C(gateway), C(dev), C(scope), C(onlink), C(metric), C(netns)).
    type: list
    elements: dict
    default: []
  routes_keep:
    description:
      - Destinations whose routes of protocol C(157) in the host namespace are left exactly as
        they are, listed or not (routes toward a peer whose node address is unknown this run).
        A C(/32) among them that is a peer's VTEP address also keeps that peer's entries in the
        VXLAN tunnel.
    type: list
    elements: str
    default: []
  proxy_arp_interfaces:
    description: Host ends of the veths, which get proxy ARP, C(proxy_delay=0) and strict C(rp_filter).
    type: list
    elements: str
    default: []
  container_networks:
    description:
      - Container networks of both families whose traffic is forwarded (as
        O(crossnet.routed.forwarding#module:container_networks)).  Without namespaces, the
        forward chains are removed and ip_forward (and IPv6 forwarding) restored.
    type: list
    elements: str
    default: []
  accept_ra_interfaces:
    description:
      - Interfaces (the uplink) whose C(accept_ra=1) becomes C(2) while IPv6 forwarding is on,
        so that a default route learnt from router advertisements survives (as
        O(crossnet.routed.forwarding#module:accept_ra_interfaces)).
    type: list
    elements: str
    default: []
  source_check_interfaces:
    description:
      - Host ends of the veths of containers with IPv6 addresses, whose IPv6 packets are dropped
        unless their source is routed back through them (as
        O(crossnet.routed.forwarding#module:source_check_interfaces)); IPv4 has strict
        C(rp_filter) on every host end instead.
    type: list
    elements: str
    default: []
  masquerade_sources:
    description:
      - Sources of both families to masquerade (as O(crossnet.routed.masquerade#module:sources)).
        Empty removes the masquerade chains.
    type: list
    elements: str
    default: []
  masquerade_exclude:
    description: Destinations never masqueraded (as O(crossnet.routed.masquerade#module:exclude)).
    type: list
    elements: str
    default: []
  plan:
    description:
      - Plan this host's part on the controller instead of passing the lists above.  The
        module's action plugin reads every host of O(plan.hosts) from C(hostvars) (their
        C(crossnet_*) variables and facts, as the P(crossnet.routed.network_plan#filter) filter
        does) and fills O(namespaces), O(veth_pairs), O(routes), O(routes_keep),
        O(vxlan_tunnels), O(proxy_arp_interfaces), O(container_networks), O(accept_ra_interfaces),
        O(source_check_interfaces), O(masquerade_sources) and O(masquerade_exclude) from this
        host's part, as plain data.
      - This is how the role calls the module.  Templating those lists from a stored plan costs
        Ansible about as long as the module takes to check a thousand containers.
      - Mutually exclusive with the options it fills.  A problem anywhere in the inventory
        fails the task with the whole list.
      - With O(plan.store) the part is not planned here but read from where the
        P(crossnet.routed.network_plan#filter) filter wrote it earlier in the same run (its
        O(crossnet.routed.network_plan#filter:store) option), so that the inventory is planned
        once per run instead of once per host.  The role does this.
    type: dict
    suboptions:
      hosts:
        description:
          - The hosts of the container network, usually C(groups['crossnet_hosts']).
          - Required unless O(plan.store) is given.
        type: list
        elements: str
      store:
        description:
          - The C(store) the P(crossnet.routed.network_plan#filter) filter returned in this run.
          - Mutually exclusive with the other suboptions.
        type: str
      gateway:
        description: The link-local gateway containers route to.
        type: str
        default: 169.254.1.1
      gateway6:
        description: The IPv6 link-local gateway containers with IPv6 addresses route to.
        type: str
        default: fe80::1
      masquerade:
        description: Whether traffic from containers to outside the container network is NATed.
        type: bool
        default: true
      masquerade6:
        description: Whether IPv6 traffic from containers to outside the container network is NATed.
        type: bool
        default: true
      masquerade_exclude:
        description: Extra destinations (IPv4 or IPv6 CIDRs or addresses) never NATed.
        type: list
        elements: str
        default: []
  state:
    description: V(present) applies the options; V(absent) removes all the collection created.
    type: str
    choices: [present, absent]
    default: present
  adopt:
    description: Passed to every step (see each module's O(crossnet.routed.veth_pair#module:adopt)).
    type: bool
    default: false
  force_remove:
    description:
      - Passed to the netns step (see O(crossnet.routed.netns#module:force_remove)), with
        O(state=present) and O(state=absent).
      - By default a namespace to be removed (no longer listed, or every namespace at teardown)
        that still has a process in it (a running container) fails the run before any step
        changes the host, naming the namespace and its processes.  V(true) removes it anyway.
    type: bool
    default: false
  backend:
    description: The iptables backend (as O(crossnet.routed.masquerade#module:backend)).
    type: str
    choices: [auto, nft, legacy]
    default: auto
  state_dir:
    description: Directory of the collection's state files.
    type: path
    default: /var/lib/crossnet
  lock_path:
    description: The file locked for the length of the run.
    type: path
    default: /run/lock/crossnet.host_network.lock
  lock_timeout:
    description: Seconds to wait for another run's lock before failing.
    type: int
    default: 60
  lock_owner:
    description: A name for this run, written into the lock file for other runs' messages.
    type: str
requirements:
  - pyroute2 (0.7 or later)
  - netaddr
  - iptables (nft or legacy)
extends_documentation_fragment:
  - crossnet.routed.attributes
attributes:
  check_mode:
    support: full
    details: Later steps predict on top of what earlier steps would have done (a namespace not
      created yet is a pair to create, not an error).
  diff_mode:
    support: full
    details: One diff per step that has something to show, headed by the step's name.
  action:
    description: Has an action plugin that runs part of the work on the controller.
    support: full
    details: The action plugin plans this host's part on the controller when O(plan) is given.
  platform:
    support: full
    platforms: linux
seealso:
  - module: crossnet.routed.forwarding
  - module: crossnet.routed.netns
  - module: crossnet.routed.veth_pair
  - module: crossnet.routed.vxlan_tunnel
  - module: crossnet.routed.host_route
  - module: crossnet.routed.proxy_arp
  - module: crossnet.routed.masquerade
author:
  - crossnet.routed contributors (@crossnet)
"""

EXAMPLES = r"""
- name: Two containers on this host, a peer host's containers behind 192.168.9.4
  crossnet.routed.host_network:
    namespaces: [web1, db1]
    veth_pairs:
      - {netns: web1, addresses: [10.1.0.1], gateway: 169.254.1.1, mtu: 1500}
      - {netns: db1, addresses: [10.1.0.2], gateway: 169.254.1.1, mtu: 1500}
    routes:
      - {dest: 10.1.0.1/32, dev: cnr4f2a9c01be7}
      - {dest: 10.1.0.2/32, dev: cnr0b1e5d77a42}
      - {dest: 10.2.0.0/24, gateway: 192.168.9.4, dev: eth0}
    proxy_arp_interfaces: [cnr4f2a9c01be7, cnr0b1e5d77a42]
    container_networks: [10.1.0.1/32, 10.1.0.2/32]
    masquerade_sources: [10.1.0.1/32, 10.1.0.2/32]
    masquerade_exclude: [10.1.0.0/24, 10.2.0.0/24]

- name: Remove everything the collection created on the host
  crossnet.routed.host_network:
    state: absent
"""

RETURN = r"""
steps:
  description:
    - The result of each step that ran, by module name, as that module returns it, except that
      the whole desired state the options already hold (C(namespaces), C(pairs), C(routes),
      C(interfaces)) is given as its length in C(total); what changed is listed in full.
  returned: always
  type: dict
  sample:
    netns: {changed: true, total: 2, created: [web1, db1], removed: [], adopted: []}
changed_steps:
  description: The steps that changed the host (in check mode, would have).
  returned: always
  type: list
  elements: str
  sample: [netns, veth_pair]
failed_step:
  description: The step that failed.
  returned: failure
  type: str
  sample: veth_pair
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crossnet.routed.plugins.module_utils import requirements
from ansible_collections.crossnet.routed.plugins.module_utils import (
    forwarding, hostlock, masquerade, netns, routes, sysctl, veth, vxlan)
from ansible_collections.crossnet.routed.plugins.module_utils.failure import StepFailed


def netns_params(p):
    """The netns step's parameters: every namespace listed, the others of ours purged (absent: all)."""
    names = [] if p["state"] == "absent" else p["namespaces"]
    return {"names": names, "state": "present", "purge": True, "adopt": p["adopt"], "state_dir": p["state_dir"],
            "force_remove": p["force_remove"]}


def steps(module):
    """(name, function of (check_mode, diff) -> result) in the order they run."""
    p = module.params
    common = {"adopt": p["adopt"], "state_dir": p["state_dir"], "backend": p["backend"]}
    if p["state"] == "absent":
        return [
            ("masquerade", lambda cm, d: masquerade.run(module, dict(common, state="absent"), cm, d)),
            ("host_route", lambda cm, d: routes.run(dict(common, routes=[], state="present", purge=True), cm, d)),
            # namespaces first: the kernel then removes their pairs in bulk
            ("netns", lambda cm, d: netns.run(netns_params(p), cm, d)),
            ("veth_pair", lambda cm, d: veth.run(dict(common, pairs=[], state="present", purge=True), cm, d)),
            ("vxlan_tunnel", lambda cm, d: vxlan.run(dict(common, tunnels=[], state="present", purge=True), cm, d)),
            ("forwarding", lambda cm, d: forwarding.run(
                module, dict(common, state="absent", sysctl_file=forwarding.DEFAULT_SYSCTL_FILE, container_networks=[],
                             accept_ra_interfaces=[], source_check_interfaces=[]), cm, d)),
        ]
    # a container in a runtime's namespace (netns_path) has a pair but no namespace of ours
    containers = bool(p["namespaces"] or p["veth_pairs"])
    networks = p["container_networks"] if containers else []
    return [
        ("forwarding", lambda cm, d: forwarding.run(
            module, dict(common, container_networks=networks, sysctl_file=forwarding.DEFAULT_SYSCTL_FILE,
                         accept_ra_interfaces=p["accept_ra_interfaces"] if containers else [],
                         source_check_interfaces=p["source_check_interfaces"] if containers else [],
                         state="present" if containers else "absent"), cm, d)),
        ("netns", lambda cm, d: netns.run(netns_params(p), cm, d)),
        ("veth_pair", lambda cm, d: veth.run(dict(common, pairs=p["veth_pairs"], state="present", purge=True),
                                             cm, d)),
        # before the routes: some go through the tunnel's device
        ("vxlan_tunnel", lambda cm, d: vxlan.run(dict(common, tunnels=p["vxlan_tunnels"], state="present",
                                                      purge=True), cm, d, keep=p["routes_keep"])),
        ("host_route", lambda cm, d: routes.run(dict(common, routes=p["routes"], state="present", purge=True),
                                                cm, d, keep=p["routes_keep"])),
        ("proxy_arp", lambda cm, d: sysctl.run(dict(interfaces=p["proxy_arp_interfaces"], rp_filter=True,
                                                    state="present"), cm, d)),
        ("masquerade", lambda cm, d: masquerade.run(
            module, dict(common, sources=p["masquerade_sources"], exclude=p["masquerade_exclude"],
                         state="present" if p["masquerade_sources"] else "absent"), cm, d)),
    ]


# Keys of a step's result that repeat the whole desired state.  At a thousand containers they
# are most of the result, and Ansible copies a result several times on its way to the callback.
WHOLE_STATE = {"netns": "namespaces", "veth_pair": "pairs", "host_route": "routes", "proxy_arp": "interfaces",
               "vxlan_tunnel": "tunnels"}
LIST_OPTIONS = ("namespaces", "veth_pairs", "vxlan_tunnels", "routes", "routes_keep", "proxy_arp_interfaces",
                "container_networks", "accept_ra_interfaces", "source_check_interfaces", "masquerade_sources",
                "masquerade_exclude")


def summary(name, result):
    key = WHOLE_STATE.get(name)
    if key not in result:
        return result
    result = dict(result)
    result["total"] = len(result.pop(key))
    return result


def invocation(params):
    """The module_args Ansible echoes back, with each list given by its length: the lists are
    the caller's own plan, and echoing them would double the result and the no_log scan."""
    return {"module_args": dict(params, **{key: "%d items" % len(params[key]) for key in LIST_OPTIONS})}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            namespaces=dict(type="list", elements="str", default=[]),
            veth_pairs=dict(type="list", elements="dict", default=[]),
            vxlan_tunnels=dict(type="list", elements="dict", default=[]),
            routes=dict(type="list", elements="dict", default=[]),
            routes_keep=dict(type="list", elements="str", default=[]),
            proxy_arp_interfaces=dict(type="list", elements="str", default=[]),
            container_networks=dict(type="list", elements="str", default=[]),
            accept_ra_interfaces=dict(type="list", elements="str", default=[]),
            source_check_interfaces=dict(type="list", elements="str", default=[]),
            masquerade_sources=dict(type="list", elements="str", default=[]),
            masquerade_exclude=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            adopt=dict(type="bool", default=False),
            force_remove=dict(type="bool", default=False),
            backend=dict(type="str", choices=["auto", "nft", "legacy"], default="auto"),
            state_dir=dict(type="path", default="/var/lib/crossnet"),
            lock_path=dict(type="path", default=hostlock.DEFAULT_PATH),
            lock_timeout=dict(type="int", default=60),
            lock_owner=dict(type="str"),
            plan=dict(type="dict", options=dict(
                hosts=dict(type="list", elements="str"),
                store=dict(type="str"),
                gateway=dict(type="str", default="169.254.1.1"),
                gateway6=dict(type="str", default="fe80::1"),
                masquerade=dict(type="bool", default=True),
                masquerade6=dict(type="bool", default=True),
                masquerade_exclude=dict(type="list", elements="str", default=[]),
            )),
        ),
        supports_check_mode=True,
    )
    if module.params["plan"] is not None:
        module.fail_json(msg="plan is planned on the controller by this module's action plugin, "
                             "which did not run: call the module as crossnet.routed.host_network")
    requirements.require(module, "pyroute2", "netaddr")
    p = module.params
    results, diffs, changed_steps = {}, [], []
    try:
        with hostlock.held(p["lock_path"], p["lock_timeout"], p["lock_owner"]):
            # Before any step: a namespace to be removed that a process is still in (a running
            # container) stops the run here, not after forwarding has changed the host.
            busy = netns.refusal(netns_params(p))
            if busy is not None:
                module.fail_json(msg="netns: %s" % busy, failed_step="netns", steps=results,
                                 changed_steps=changed_steps, changed=False, invocation=invocation(p))
            for name, step in steps(module):
                try:
                    result = step(module.check_mode, module._diff)
                except StepFailed as exc:
                    module.fail_json(msg="%s: %s" % (name, exc), failed_step=name, steps=results,
                                     changed_steps=changed_steps, changed=bool(changed_steps),
                                     invocation=invocation(p))
                diff = result.pop("diff", None)
                if result["changed"]:
                    changed_steps.append(name)
                    if diff:
                        diffs.append(dict(diff, before_header=diff.get("before_header", name),
                                          after_header=diff.get("after_header", name)))
                results[name] = summary(name, result)
    except hostlock.Busy as busy:
        module.fail_json(msg=hostlock.describe(busy), holder=busy.holder, invocation=invocation(p))
    except hostlock.Unusable as exc:
        module.fail_json(msg=str(exc), invocation=invocation(p))
    out = dict(changed=bool(changed_steps), steps=results, changed_steps=changed_steps,
               invocation=invocation(p))
    if module._diff:
        out["diff"] = diffs
    module.exit_json(**out)


if __name__ == "__main__":
    main()
