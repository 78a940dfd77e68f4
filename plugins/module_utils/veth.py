# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reconcile veth pairs: host end in the host namespace (alias ``crossnet:<netns>``), peer in a
named namespace with its addresses and a permanent neighbour entry for the gateway."""

from __future__ import annotations

import os

from ansible_collections.crossnet.routed.plugins.module_utils import names as namerules
from ansible_collections.crossnet.routed.plugins.module_utils import netlink

ALIAS_PREFIX = "crossnet:"
IFF_UP = 0x1
NUD_PERMANENT = 0x80
AF_INET = 2


def alias_for(netns):
    return ALIAS_PREFIX + netns


def normalize_address(text):
    """``10.0.0.1`` -> ``10.0.0.1/32``; ``10.0.0.1/24`` stays (the host part is kept)."""
    import netaddr  # imported late: the module reports a missing netaddr itself

    net = netaddr.IPNetwork(text if "/" in str(text) else "%s/32" % text)
    if net.version != 4:
        raise ValueError("%s is not an IPv4 address" % text)
    return "%s/%d" % (net.ip, net.prefixlen)


def normalize_pairs(pairs):
    """Fill defaults and validate; returns (pairs, errors)."""
    out, errors = [], []
    for raw in pairs:
        pair = dict(raw)
        netns = pair.get("netns")
        peer = pair.get("peer_ifname") or "eth0"
        pair["peer_ifname"] = peer
        problem = namerules.netns_error(netns)
        if problem:
            errors.append("netns %r %s" % (netns, problem))
            continue
        host = pair.get("host_ifname") or namerules.host_ifname(netns, peer)
        pair["host_ifname"] = host
        for what, name in (("host_ifname", host), ("peer_ifname", peer)):
            problem = namerules.ifname_error(name)
            if problem:
                errors.append("%s %r of the pair for netns %s %s" % (what, name, netns, problem))
        try:
            pair["addresses"] = sorted({normalize_address(a) for a in pair.get("addresses") or []})
            if pair.get("gateway"):
                pair["gateway"] = normalize_address(pair["gateway"]).split("/")[0]
        except Exception as exc:  # netaddr raises several types
            errors.append("pair %s (netns %s): bad address: %s" % (host, netns, exc))
        pair.setdefault("mtu", None)
        pair.setdefault("gateway", None)
        out.append(pair)
    hosts = [p["host_ifname"] for p in out]
    for name in sorted({h for h in hosts if hosts.count(h) > 1}):
        errors.append("host_ifname %s is listed more than once" % name)
    ends = [(p["netns"], p["peer_ifname"]) for p in out]
    for netns, peer in sorted({e for e in ends if ends.count(e) > 1}):
        errors.append("peer %s in netns %s is listed more than once" % (peer, netns))
    return out, errors


# -- observation -----------------------------------------------------------------------------
def _link_view(link):
    info = link.get_attr("IFLA_LINKINFO")
    return {
        "index": link["index"],
        "name": link.get_attr("IFLA_IFNAME"),
        "kind": info.get_attr("IFLA_INFO_KIND") if info is not None else None,
        "alias": link.get_attr("IFLA_IFALIAS"),
        "mtu": link.get_attr("IFLA_MTU"),
        "up": bool(link["flags"] & IFF_UP),
        "mac": link.get_attr("IFLA_ADDRESS"),
        "link": link.get_attr("IFLA_LINK"),
    }


def observe_host(sockets):
    return {v["name"]: v for v in map(_link_view, netlink.dump(sockets[None].get_links))}


def observe_netns(sockets, netns):
    """Links, IPv4 addresses and neighbours of one namespace, or None when it does not exist."""
    try:
        ipr = sockets[netns]
    except netlink.NamespaceMissing:
        return None
    links = {v["name"]: v for v in map(_link_view, netlink.dump(ipr.get_links))}
    addrs = {}
    for msg in netlink.dump(ipr.get_addr, family=AF_INET):
        addrs.setdefault(msg["index"], set()).add("%s/%d" % (msg.get_attr("IFA_ADDRESS"), msg["prefixlen"]))
    neigh = {}
    for msg in netlink.dump(ipr.get_neighbours, family=AF_INET):
        neigh[(msg["ifindex"], msg.get_attr("NDA_DST"))] = (msg.get_attr("NDA_LLADDR"), msg["state"])
    return {"links": links, "addrs": addrs, "neigh": neigh}


# -- planning (pure) -------------------------------------------------------------------------
class Plan:
    def __init__(self):
        self.errors = []
        self.delete = []  # host ifnames
        self.create = []  # pairs
        self.fixes = []  # (pair, [operation, ...])
        self.before = []
        self.after = []
        self.changed_pairs = []

    @property
    def changed(self):
        return bool(self.delete or self.create or self.fixes)


def pair_view(host, peer_ns):
    """A pair as it is: dict for diff output, or None."""
    if host is None:
        return None
    return {"host_ifname": host["name"], "alias": host["alias"], "mac": host["mac"], "mtu": host["mtu"]}


def _peer_of(pair, host, peer_ns):
    """The peer link of ``host`` inside ``peer_ns`` when it is where the pair says, else None."""
    if peer_ns is None:
        return None
    peer = peer_ns["links"].get(pair["peer_ifname"])
    if peer is None or peer["kind"] != "veth" or peer["link"] != host["index"] or host["link"] != peer["index"]:
        return None
    return peer


def describe(pair, host, peer, peer_ns):
    """Diff view of one pair: what the kernel has (or will have)."""
    if host is None:
        return None
    view = {"host_ifname": host["name"], "netns": None, "peer_ifname": None,
            "addresses": [], "mtu": host["mtu"], "gateway": None, "mac": host["mac"]}
    if host["alias"] and host["alias"].startswith(ALIAS_PREFIX):
        view["netns"] = host["alias"][len(ALIAS_PREFIX):]
    if peer is not None:
        view["netns"] = pair["netns"]
        view["peer_ifname"] = peer["name"]
        view["addresses"] = sorted(peer_ns["addrs"].get(peer["index"], ()))
        if pair.get("gateway"):
            lladdr, state = peer_ns["neigh"].get((peer["index"], pair["gateway"]), (None, 0))
            if lladdr == host["mac"] and state & NUD_PERMANENT:
                view["gateway"] = pair["gateway"]
    return view


def desired_view(pair, mac=None):
    return {"host_ifname": pair["host_ifname"], "netns": pair["netns"], "peer_ifname": pair["peer_ifname"],
            "addresses": list(pair["addresses"]), "mtu": pair["mtu"], "gateway": pair["gateway"], "mac": mac}


def fixes_for(pair, host, peer, peer_ns):
    """Operations that bring an existing, correctly connected pair to ``pair``."""
    ops = []
    if host["alias"] != alias_for(pair["netns"]):
        ops.append(("host_alias", alias_for(pair["netns"])))
    if pair["mtu"] and host["mtu"] != pair["mtu"]:
        ops.append(("host_mtu", pair["mtu"]))
    if pair["mtu"] and peer["mtu"] != pair["mtu"]:
        ops.append(("peer_mtu", pair["mtu"]))
    if not host["up"]:
        ops.append(("host_up", None))
    if not peer["up"]:
        ops.append(("peer_up", None))
    have = peer_ns["addrs"].get(peer["index"], set())
    for cidr in sorted(set(pair["addresses"]) - have):
        ops.append(("addr_add", cidr))
    for cidr in sorted(have - set(pair["addresses"])):
        ops.append(("addr_del", cidr))
    if pair["gateway"]:
        lladdr, state = peer_ns["neigh"].get((peer["index"], pair["gateway"]), (None, 0))
        if lladdr != host["mac"] or not state & NUD_PERMANENT:
            ops.append(("gateway_neigh", pair["gateway"]))
    return ops


def plan(pairs, state, host_links, netns_views, purge=False, adopt=False):
    """Pure.  ``host_links``: name -> link view; ``netns_views``: netns -> observe_netns() result
    (None: namespace missing)."""
    result = Plan()
    listed = set()
    for pair in pairs:
        name = pair["host_ifname"]
        listed.add(name)
        host = host_links.get(name)
        peer_ns = netns_views.get(pair["netns"])
        owned = host is not None and (host["alias"] or "").startswith(ALIAS_PREFIX)
        peer = _peer_of(pair, host, peer_ns) if host is not None else None
        before = describe(pair, host, peer, peer_ns)
        if state == "absent":
            if host is None:
                continue
            if not owned and not adopt:
                result.errors.append("interface %s exists and was not created by crossnet "
                                     "(set adopt=true to delete it anyway)" % name)
                continue
            result.delete.append(name)
            result.before.append(before)
            continue
        if host is not None and host["kind"] != "veth":
            result.errors.append("interface %s exists and is a %s, not a veth" % (name, host["kind"] or "device"))
            continue
        if host is not None and not owned and not adopt:
            result.errors.append("interface %s exists and was not created by crossnet "
                                 "(set adopt=true to take it over)" % name)
            continue
        if peer_ns is not None and pair["peer_ifname"] in peer_ns["links"] and peer is None:
            result.errors.append("netns %s already has an interface %s that is not the peer of %s"
                                 % (pair["netns"], pair["peer_ifname"], name))
            continue
        result.before.append(before)
        after = desired_view(pair, host["mac"] if peer is not None else None)
        if after["mtu"] is None and before is not None:
            after["mtu"] = before["mtu"]
        result.after.append(after)
        if host is None:
            result.create.append(pair)
        elif peer is None:
            # wrong namespace or peer name: the pair is rebuilt
            result.delete.append(name)
            result.create.append(pair)
            result.changed_pairs.append(name)
        else:
            ops = fixes_for(pair, host, peer, peer_ns)
            if ops:
                result.fixes.append((pair, ops))
                result.changed_pairs.append(name)
    if state == "present" and purge:
        for name, host in sorted(host_links.items()):
            if name not in listed and host["kind"] == "veth" and (host["alias"] or "").startswith(ALIAS_PREFIX):
                result.delete.append(name)
                result.before.append(describe({}, host, None, None))
    return result


# -- applying --------------------------------------------------------------------------------
def _create(sockets, pair):
    fd = os.open(netlink.netns_path(pair["netns"]), os.O_RDONLY | os.O_CLOEXEC)
    try:
        peer = {"ifname": pair["peer_ifname"], "net_ns_fd": fd}
        extra = {}
        if pair["mtu"]:
            peer["mtu"] = pair["mtu"]
            extra["mtu"] = pair["mtu"]
        sockets[None].link("add", ifname=pair["host_ifname"], kind="veth", peer=peer, **extra)
    finally:
        os.close(fd)


def _apply_fixes(sockets, pair, ops, host, peer):
    host_ipr, ns_ipr = sockets[None], sockets[pair["netns"]]
    for op, value in ops:
        if op == "host_alias":
            host_ipr.link("set", index=host["index"], ifalias=value)
        elif op == "host_mtu":
            host_ipr.link("set", index=host["index"], mtu=value)
        elif op == "peer_mtu":
            ns_ipr.link("set", index=peer["index"], mtu=value)
        elif op == "host_up":
            host_ipr.link("set", index=host["index"], state="up")
        elif op == "peer_up":
            ns_ipr.link("set", index=peer["index"], state="up")
        elif op == "addr_add":
            address, prefixlen = value.split("/")
            ns_ipr.addr("add", index=peer["index"], address=address, prefixlen=int(prefixlen))
        elif op == "addr_del":
            address, prefixlen = value.split("/")
            ns_ipr.addr("del", index=peer["index"], address=address, prefixlen=int(prefixlen))
        elif op == "gateway_neigh":
            ns_ipr.neigh("replace", dst=value, lladdr=host["mac"], ifindex=peer["index"], state=NUD_PERMANENT)


class VethReconciler:
    def __init__(self, pairs, state="present", purge=False, adopt=False):
        self.pairs = pairs
        self.state = state
        self.purge = purge
        self.adopt = adopt

    def _observe(self, sockets, namespaces):
        host_links = observe_host(sockets)
        views = {ns: observe_netns(sockets, ns) for ns in namespaces}
        return host_links, views

    def run(self, sockets, check_mode):
        namespaces = sorted({p["netns"] for p in self.pairs})
        host_links, views = self._observe(sockets, namespaces)
        result = plan(self.pairs, self.state, host_links, views, self.purge, self.adopt)
        if self.state == "present" and not result.errors:
            for pair in result.create:
                if views.get(pair["netns"]) is None and not check_mode:
                    result.errors.append("network namespace %s (for interface %s) does not exist"
                                         % (pair["netns"], pair["host_ifname"]))
        report = {"errors": result.errors, "changed": result.changed, "plan": result}
        if result.errors or check_mode:
            return report
        host_ipr = sockets[None]
        for name in result.delete:
            try:
                host_ipr.link("del", index=host_links[name]["index"])
            except netlink.NetlinkError as exc:
                if netlink.error_code(exc) != netlink.ENODEV:
                    raise
        for pair in result.create:
            _create(sockets, pair)
        if result.create:
            # the new ends get their addresses, neighbour and alias from the same fix-up code
            touched = sorted({p["netns"] for p in result.create})
            host_links = observe_host(sockets)
            views.update({ns: observe_netns(sockets, ns) for ns in touched})
            again = plan(result.create, "present", host_links, views, adopt=True)
            fixes = result.fixes + again.fixes
        else:
            fixes = result.fixes
        for pair, ops in fixes:
            host = host_links[pair["host_ifname"]]
            peer = views[pair["netns"]]["links"][pair["peer_ifname"]]
            _apply_fixes(sockets, pair, ops, host, peer)
        report["host_links"] = observe_host(sockets) if fixes or result.create else host_links
        return report
