# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reconcile veth pairs: host end in the host namespace (alias ``crossnet:<netns>``), peer in a
named namespace with its addresses, a permanent neighbour entry for the gateway and the
container's routes through it (like CNI's ptp plugin); for IPv6 the same with ``gateway6``.

IPv6 addresses are added with nodad: duplicate address detection would hold a new address
"tentative", unusable, for a second, and the collection already refuses duplicates.  The
link-local addresses the kernel gives every IPv6 interface are its own: never listed, never
removed.  The IPv6 gateway is link-local, so on link without a route of its own.

One run reads the host's links once, then visits every container namespace once: one socket,
one dump each of links, addresses, neighbours and routes, then the changes, then the next.

The kernel ignores IFLA_IFALIAS when it creates a link, so a new host end is unmarked until a
second request sets its alias.  Its name is recorded in ``state_dir/veth.json`` before it is
created, and a recorded link without alias counts as ours: a run killed in between still owns it.

A pair with ``netns_path`` has its peer in a namespace a container runtime made (its file, such
as ``/proc/<pid>/ns/net``): that file is opened to move the peer there and entered for the
namespace's socket, as ``/run/netns/<netns>`` is for the others.  ``netns`` stays the pair's name
(host end's alias, default host_ifname).  The namespace is never created or removed here; a
missing file fails the run (check mode too: nothing in the run would make it).
"""

from __future__ import annotations

import os

from ansible_collections.crossnet.routed.plugins.module_utils.failure import StepFailed
from ansible_collections.crossnet.routed.plugins.module_utils import names as namerules
from ansible_collections.crossnet.routed.plugins.module_utils import netlink, nsfs, statefile
from ansible_collections.crossnet.routed.plugins.module_utils import routes as rt

ALIAS_PREFIX = "crossnet:"
IFF_UP = 0x1
NUD_PERMANENT = 0x80
AF_INET, AF_INET6 = 2, 10
IFA_F_NODAD = 0x02
STATE_FILE = "veth.json"


def alias_for(netns):
    return ALIAS_PREFIX + netns


def netns_ref(pair):
    """How the pair's namespace is opened: its ``netns_path`` (a runtime's), else its name."""
    return pair.get("netns_path") or pair["netns"]


def where(pair):
    """The pair's namespace in messages."""
    if pair.get("netns_path"):
        return "netns %s (%s)" % (pair["netns"], pair["netns_path"])
    return "netns %s" % pair["netns"]


def normalize_address(text, version=None):
    """``10.0.0.1`` -> ``10.0.0.1/32``, ``fd00::1`` -> ``fd00::1/128``; ``10.0.0.1/24`` stays
    (the host part is kept).  ``version``: the family it must be (4 or 6)."""
    import netaddr  # imported late: the module reports a missing netaddr itself

    net = netaddr.IPNetwork(str(text))
    if "/" not in str(text):
        net = netaddr.IPNetwork("%s/%d" % (net.ip, 32 if net.version == 4 else 128))
    if version is not None and net.version != version:
        raise ValueError("%s is not an IPv%d address" % (text, version))
    return "%s/%d" % (net.ip, net.prefixlen)


def is_link_local6(cidr):
    """Whether ``cidr`` (an address as the kernel lists it) is an IPv6 link-local one (fe80::/10)."""
    head = cidr.split(":", 1)[0].lower()
    return ":" in cidr and len(head) == 4 and head[:3] in ("fe8", "fe9", "fea", "feb")


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
        pair["netns_path"] = pair.get("netns_path") or None
        if pair["netns_path"] is not None:
            problem = namerules.netns_path_error(pair["netns_path"])
            if problem:
                errors.append("netns_path %r of the pair for netns %s %s" % (pair["netns_path"], netns, problem))
        host = pair.get("host_ifname") or namerules.host_ifname(netns, peer)
        pair["host_ifname"] = host
        for what, name in (("host_ifname", host), ("peer_ifname", peer)):
            problem = namerules.ifname_error(name)
            if problem:
                errors.append("%s %r of the pair for netns %s %s" % (what, name, netns, problem))
        try:
            pair["addresses"] = sorted({normalize_address(a) for a in pair.get("addresses") or []})
            for key, version in (("gateway", 4), ("gateway6", 6)):
                if pair.get(key):
                    pair[key] = normalize_address(pair[key], version).split("/")[0]
        except Exception as exc:  # netaddr raises several types
            errors.append("pair %s (netns %s): bad address: %s" % (host, netns, exc))
        pair.setdefault("mtu", None)
        pair["gateway"] = pair.get("gateway") or None
        pair["gateway6"] = pair.get("gateway6") or None
        out.append(pair)
    for name in namerules.repeated(p["host_ifname"] for p in out):
        errors.append("host_ifname %s is listed more than once" % name)
    for ref, peer in namerules.repeated((netns_ref(p), p["peer_ifname"]) for p in out):
        errors.append("peer %s in netns %s is listed more than once" % (peer, ref))
    for key in ("gateway", "gateway6"):
        for ref in namerules.repeated(netns_ref(p) for p in out if p[key]):
            errors.append("netns %s has more than one pair with a %s (one default route each)" % (ref, key))
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


def observe_links(ipr):
    return {v["name"]: v for v in map(_link_view, netlink.dump(ipr.get_links))}


def observe_netns(ipr):
    """Links, addresses (without IPv6 link-local ones), neighbours and main-table routes of both
    families in the namespace of ``ipr``."""
    links = observe_links(ipr)
    addrs, neigh = {}, {}
    for family in (AF_INET, AF_INET6):
        for msg in netlink.dump(ipr.get_addr, family=family):
            cidr = "%s/%d" % (msg.get_attr("IFA_ADDRESS"), msg["prefixlen"])
            if not is_link_local6(cidr):
                addrs.setdefault(msg["index"], set()).add(cidr)
        for msg in netlink.dump(ipr.get_neighbours, family=family):
            neigh[(msg["ifindex"], msg.get_attr("NDA_DST"))] = (msg.get_attr("NDA_LLADDR"), msg["state"])
    names = {v["index"]: name for name, v in links.items()}
    return {"links": links, "addrs": addrs, "neigh": neigh, "routes": rt.read_main(ipr, names)}


EMPTY_NETNS = {"links": {}, "addrs": {}, "neigh": {}, "routes": {}}


# -- planning (pure) -------------------------------------------------------------------------
def owned(host, recorded=()):
    """Ours: the alias says so, or the name was recorded before a creation that never got as far
    as setting it (the alias is only recorded once set)."""
    return (host["alias"] or "").startswith(ALIAS_PREFIX) or (not host["alias"] and host["name"] in recorded)


def _peer_of(pair, host, view):
    """The peer link of ``host`` inside the namespace ``view`` when it is where the pair says, else None."""
    if view is None or host is None:
        return None
    peer = view["links"].get(pair["peer_ifname"])
    if peer is None or peer["kind"] != "veth" or peer["link"] != host["index"] or host["link"] != peer["index"]:
        return None
    return peer


def gateway_routes(pair, families=("gateway", "gateway6")):
    """The container's routes through its gateways: for IPv4 the gateway on link and the default
    through it; for IPv6 (a link-local gateway, on link anyway) the default through it."""
    common = {"netns": pair["netns"], "dev": pair["peer_ifname"], "onlink": False}
    routes = []
    if pair["gateway"] and "gateway" in families:
        routes += [dict(common, dest=pair["gateway"] + "/32", gateway=None, scope="link", metric=0),
                   dict(common, dest="0.0.0.0/0", gateway=pair["gateway"], scope="universe", metric=0)]
    if pair.get("gateway6") and "gateway6" in families:
        routes.append(dict(common, dest="::/0", gateway=pair["gateway6"], scope="universe",
                           metric=rt.IPV6_DEFAULT_METRIC))
    return routes


def _routes_ok(pair, view, key):
    for want in gateway_routes(pair, (key,)):
        have = view["routes"].get((want["dest"], want["metric"]))
        if have is None or have["protocol"] != rt.PROTOCOL or not rt.same_path(want, have):
            return False
    return True


def describe(pair, host, peer, view):
    """Diff view of one pair: what the kernel has.  ``gateway`` (``gateway6``) is set when its
    neighbour entry and its routes are in place."""
    if host is None:
        return None
    result = {"host_ifname": host["name"], "netns": None, "peer_ifname": None,
              "addresses": [], "mtu": host["mtu"], "gateway": None, "gateway6": None, "mac": host["mac"]}
    if host["alias"] and host["alias"].startswith(ALIAS_PREFIX):
        result["netns"] = host["alias"][len(ALIAS_PREFIX):]
    if peer is not None:
        result["netns"] = pair["netns"]
        if pair.get("netns_path"):
            result["netns_path"] = pair["netns_path"]
        result["peer_ifname"] = peer["name"]
        result["addresses"] = sorted(view["addrs"].get(peer["index"], ()))
        for key in ("gateway", "gateway6"):
            if pair.get(key):
                lladdr, state = view["neigh"].get((peer["index"], pair[key]), (None, 0))
                if lladdr == host["mac"] and state & NUD_PERMANENT and _routes_ok(pair, view, key):
                    result[key] = pair[key]
    return result


def desired_view(pair, mac=None):
    view = {"host_ifname": pair["host_ifname"], "netns": pair["netns"], "peer_ifname": pair["peer_ifname"],
            "addresses": list(pair["addresses"]), "mtu": pair["mtu"], "gateway": pair["gateway"],
            "gateway6": pair.get("gateway6"), "mac": mac}
    if pair.get("netns_path"):
        view["netns_path"] = pair["netns_path"]
    return view


class HostPlan:
    """What the host's links alone decide: errors, deletions, creations, host-end repairs."""

    def __init__(self):
        self.errors = []
        self.delete = []  # host ifnames
        self.create = []  # pairs
        self.host_fixes = []  # (pair, {"ifalias"/"mtu"/"state": value})
        self.visit = []  # pairs whose namespace is to be visited (existing host end, or created)
        self.removed_views = []  # diff "before" of deleted pairs

    @property
    def changed(self):
        return bool(self.delete or self.create or self.host_fixes)


def host_fix(pair, host, adopt_alias=True):
    """Changes of an existing host end, as one RTM_NEWLINK's arguments."""
    change = {}
    if adopt_alias and host["alias"] != alias_for(pair["netns"]):
        change["ifalias"] = alias_for(pair["netns"])
    if pair["mtu"] and host["mtu"] != pair["mtu"]:
        change["mtu"] = pair["mtu"]
    if not host["up"]:
        change["state"] = "up"
    return change


def plan_host(pairs, state, host_links, existing_netns, recorded=(), purge=False, adopt=False, check_mode=False,
              unusable=None):
    """Pure.  ``host_links``: name -> link view of the host namespace; ``existing_netns``: names
    under /run/netns and the usable ``netns_path`` files; ``recorded``: host ifnames in the state
    file (creations not yet marked); ``unusable``: netns_path -> why it cannot be wired."""
    unusable = unusable or {}
    result = HostPlan()
    listed = set()
    for pair in pairs:
        name = pair["host_ifname"]
        listed.add(name)
        host = host_links.get(name)
        mine = host is not None and owned(host, recorded)
        if state == "absent":
            if host is None:
                continue
            if not mine and not adopt:
                result.errors.append("interface %s exists and was not created by crossnet "
                                     "(set adopt=true to delete it anyway)" % name)
                continue
            result.delete.append(name)
            result.removed_views.append(describe(pair, host, None, None))
            continue
        if host is not None and host["kind"] != "veth":
            result.errors.append("interface %s exists and is a %s, not a veth" % (name, host["kind"] or "device"))
            continue
        if host is not None and not mine and not adopt:
            result.errors.append("interface %s exists and was not created by crossnet "
                                 "(set adopt=true to take it over)" % name)
            continue
        if pair.get("netns_path") and pair["netns_path"] not in existing_netns:
            # a runtime's namespace: nothing in this run would make it, so check mode fails too
            why = unusable.get(pair["netns_path"], "does not exist")
            if why == "does not exist":
                why += " (is the container running?)"
            result.errors.append("container %s: netns_path %s %s; cannot wire interface %s"
                                 % (pair["netns"], pair["netns_path"], why, name))
            continue
        if not pair.get("netns_path") and pair["netns"] not in existing_netns and not check_mode:
            result.errors.append("network namespace %s (for interface %s) does not exist" % (pair["netns"], name))
            continue
        if host is None:
            result.create.append(pair)
        else:
            change = host_fix(pair, host)
            if change:
                result.host_fixes.append((pair, change))
        result.visit.append(pair)
    if state == "present" and purge:
        for name, host in sorted(host_links.items()):
            if name not in listed and host["kind"] == "veth" and owned(host, recorded):
                result.delete.append(name)
                result.removed_views.append(describe({}, host, None, None))
    return result


class NetnsPlan:
    """What to do inside one container namespace, decided from its dumps."""

    def __init__(self):
        self.errors = []
        self.rebuild = []  # pairs whose peer is missing or elsewhere: delete and create again
        self.loopback_up = None  # index of a ``lo`` that is down
        self.peer_links = []  # (index, {"mtu"/"state": value})
        self.addr_add = []  # (index, cidr)
        self.addr_del = []
        self.neigh = []  # (index, gateway, mac)
        self.neigh_del = []  # (index, address): a former gateway's entry (purge)
        self.routes = []  # route dicts (rt.normalize_routes shape) to replace
        self.route_del = []  # route views to delete
        self.changed_pairs = []
        self.before = []
        self.links = {}  # name -> index in the namespace

    @property
    def changed(self):
        return bool(self.rebuild or self.loopback_up or self.peer_links or self.addr_add or self.addr_del
                    or self.neigh or self.neigh_del or self.routes or self.route_del)


def plan_netns(pairs, host_links, view, purge=False, adopt=False, created=()):
    """Pure.  ``pairs``: the listed pairs of this namespace that it is to hold; ``view``: its
    observe_netns(); ``created``: host ifnames made in this run (not a repair)."""
    result = NetnsPlan()
    result.links = {name: link["index"] for name, link in view["links"].items()}
    lo = view["links"].get("lo")
    if lo is not None and not lo["up"]:
        result.loopback_up = lo["index"]
    wanted_routes = set()
    for pair in pairs:
        name = pair["host_ifname"]
        host = host_links.get(name)
        peer = _peer_of(pair, host, view)
        if name not in created:
            result.before.append(describe(pair, host, peer, view))
        if peer is None:
            if pair["peer_ifname"] in view["links"]:
                result.errors.append("%s already has an interface %s that is not the peer of %s"
                                     % (where(pair), pair["peer_ifname"], name))
            else:
                result.rebuild.append(pair)
            continue
        ops = 0
        change = {}
        if pair["mtu"] and peer["mtu"] != pair["mtu"]:
            change["mtu"] = pair["mtu"]
        if not peer["up"]:
            change["state"] = "up"
        if change:
            result.peer_links.append((peer["index"], change))
        have = view["addrs"].get(peer["index"], set())
        adds = [(peer["index"], cidr) for cidr in sorted(set(pair["addresses"]) - have)]
        dels = [(peer["index"], cidr) for cidr in sorted(have - set(pair["addresses"]))]
        result.addr_add.extend(adds)
        result.addr_del.extend(dels)
        ops += len(change) + len(adds) + len(dels)
        # removing the device's last address flushes its neighbours and routes
        emptied = bool(dels) and not pair["addresses"]
        for gateway in (pair["gateway"], pair.get("gateway6")):
            if not gateway:
                continue
            lladdr, state = view["neigh"].get((peer["index"], gateway), (None, 0))
            if lladdr != host["mac"] or not state & NUD_PERMANENT or emptied:
                result.neigh.append((peer["index"], gateway, host["mac"]))
                ops += 1
        if purge:
            # a gateway the pair no longer has (another crossnet_gateway(6), or no address of its
            # family left): its permanent entry pointing at the host end is ours
            stale = [(peer["index"], address) for (index, address), (lladdr, state) in sorted(view["neigh"].items())
                     if index == peer["index"] and state & NUD_PERMANENT and lladdr == host["mac"]
                     and address not in (pair["gateway"], pair.get("gateway6"))]
            result.neigh_del.extend(stale)
            ops += len(stale)
        for want in gateway_routes(pair):
            key = (want["dest"], want["metric"])
            wanted_routes.add(key)
            have_route = view["routes"].get(key)
            if have_route is not None and have_route["protocol"] != rt.PROTOCOL and not adopt:
                result.errors.append("route %s in %s exists with protocol %s, not crossnet (%d); set "
                                     "adopt=true to take it over" % (want["dest"], where(pair),
                                                                     have_route["protocol"], rt.PROTOCOL))
                continue
            if have_route is None or have_route["protocol"] != rt.PROTOCOL or not rt.same_path(want, have_route) \
                    or emptied:
                result.routes.append(want)
                ops += 1
        if ops and name not in created:
            result.changed_pairs.append(name)
    if purge:
        for key, have in sorted(view["routes"].items()):
            if have["protocol"] == rt.PROTOCOL and key not in wanted_routes:
                result.route_del.append(have)
    return result


# -- applying --------------------------------------------------------------------------------
def _create(host_ipr, pair):
    """One request: the pair, host end up, peer already in its namespace under its name."""
    try:
        fd = os.open(netlink.netns_file(netns_ref(pair)), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise CreateFailed("cannot create the pair %s: %s is gone" % (pair["host_ifname"], where(pair))) from None
    try:
        peer = {"ifname": pair["peer_ifname"], "net_ns_fd": fd}
        extra = {}
        if pair["mtu"]:
            peer["mtu"] = pair["mtu"]
            extra["mtu"] = pair["mtu"]
        try:
            host_ipr.link("add", ifname=pair["host_ifname"], kind="veth", peer=peer, state="up", **extra)
        except netlink.NetlinkError as exc:
            if netlink.error_code(exc) == netlink.EEXIST:
                raise CreateFailed("cannot create the pair %s: %s already has an interface %s (or the "
                                   "host one exists)" % (pair["host_ifname"], where(pair), pair["peer_ifname"]))
            raise
    finally:
        os.close(fd)


class CreateFailed(Exception):
    pass


def _delete(host_ipr, index):
    try:
        host_ipr.link("del", index=index)
    except netlink.NetlinkError as exc:
        # gone meanwhile: its namespace was removed and the kernel took the pair down
        if netlink.error_code(exc) != netlink.ENODEV:
            raise


def apply_netns(ipr, plan):
    """The changes of one namespace, in an order the kernel accepts: a route needs its device up,
    and the gateway route before the default route through it."""
    if plan.loopback_up:
        ipr.link("set", index=plan.loopback_up, state="up")
    for index, change in plan.peer_links:
        ipr.link("set", index=index, **change)
    for index, cidr in plan.addr_add:
        address, prefixlen = cidr.split("/")
        ipr.addr("add", index=index, address=address, prefixlen=int(prefixlen),
                 flags=IFA_F_NODAD if ":" in address else 0)
    for index, cidr in plan.addr_del:
        address, prefixlen = cidr.split("/")
        ipr.addr("del", index=index, address=address, prefixlen=int(prefixlen))
    for index, gateway, mac in plan.neigh:
        ipr.neigh("replace", dst=gateway, lladdr=mac, ifindex=index, state=NUD_PERMANENT)
    for index, address in plan.neigh_del:
        try:
            ipr.neigh("del", dst=address, lladdr="00:00:00:00:00:00", ifindex=index, state=NUD_PERMANENT)
        except netlink.NetlinkError as exc:
            if netlink.error_code(exc) != netlink.ENOENT:  # flushed with the device's last address
                raise
    for route in plan.routes:
        ipr.route("replace", **rt.spec(route, plan.links))
    for have in plan.route_del:
        try:
            rt.delete(ipr, have)
        except netlink.NetlinkError as exc:
            if netlink.error_code(exc) not in (netlink.ESRCH, netlink.ENODEV):
                raise


class VethReconciler:
    def __init__(self, pairs, state="present", purge=False, adopt=False, state_dir=statefile.DEFAULT_STATE_DIR):
        self.pairs = pairs
        self.state = state
        self.purge = purge
        self.adopt = adopt
        self.state_dir = state_dir
        self._recorded = set()

    # -- the record of creations not yet marked with their alias ------------------------------
    def recorded(self):
        return set(statefile.load(self.state_dir, STATE_FILE, {}).get("creating", []))

    def _record(self, names):
        if names == self._recorded:
            return
        if names:
            statefile.save(self.state_dir, STATE_FILE, {"creating": sorted(names)})
        else:
            statefile.remove(self.state_dir, STATE_FILE)
        self._recorded = set(names)

    def _create(self, host_ipr, pairs, host_links):
        """Create ``pairs`` (recorded first), mark them; updates ``host_links``."""
        if not pairs:
            return
        self._record(self._recorded | {p["host_ifname"] for p in pairs})
        for pair in pairs:
            _create(host_ipr, pair)
            # only the new link: a dump of every host link costs ~0.1 s at a thousand containers
            host_links[pair["host_ifname"]] = _link_view(host_ipr.link("get", ifname=pair["host_ifname"])[0])
        for pair in pairs:
            host = host_links[pair["host_ifname"]]
            host_ipr.link("set", index=host["index"], ifalias=alias_for(pair["netns"]))
            host["alias"] = alias_for(pair["netns"])
        self._record(self._recorded - {p["host_ifname"] for p in pairs})

    # -- the run ------------------------------------------------------------------------------
    def run(self, sockets, check_mode):
        host_ipr = sockets[None]
        host_links = observe_links(host_ipr)
        self._recorded = self.recorded()
        existing = set(nsfs.list_netns())
        unusable, errors = self._runtime_namespaces(existing)
        existing |= {p["netns_path"] for p in self.pairs if p.get("netns_path") and p["netns_path"] not in unusable}
        hp = plan_host(self.pairs, self.state, host_links, existing, self._recorded, self.purge, self.adopt,
                       check_mode, unusable)
        hp.errors.extend(errors)
        report = {"errors": list(hp.errors), "changed": hp.changed, "created": [p["host_ifname"] for p in hp.create],
                  "removed": list(hp.delete), "changed_pairs": [p["host_ifname"] for p, dummy in hp.host_fixes],
                  "loopback_up": [], "host_links": host_links}
        before = {}
        if hp.errors:
            return report
        if not check_mode:
            # a record whose link is gone or carries its alias by now is done with
            self._record({n for n in self._recorded if n in host_links and not host_links[n]["alias"]})
            for name in hp.delete:
                _delete(host_ipr, host_links.pop(name)["index"])
            self._record(self._recorded - set(hp.delete))
            for pair, change in hp.host_fixes:
                host = host_links[pair["host_ifname"]]
                host_ipr.link("set", index=host["index"], **change)
                host["alias"] = change.get("ifalias", host["alias"])
            self._record({n for n in self._recorded if not host_links[n]["alias"]})
            try:
                self._create(host_ipr, hp.create, host_links)
            except CreateFailed as exc:
                report["errors"].append(str(exc))
                return report
        created = {p["host_ifname"] for p in hp.create}
        by_netns = {}
        for pair in hp.visit:
            by_netns.setdefault(netns_ref(pair), []).append(pair)
        for netns in sorted(by_netns):
            pairs = [p for p in by_netns[netns] if p["host_ifname"] in host_links]  # (check mode: not created)
            if netns not in existing:  # check mode only
                for pair in pairs:
                    before[pair["host_ifname"]] = describe(pair, host_links[pair["host_ifname"]], None, None)
                    report["created"].append(pair["host_ifname"])
                    report["changed_pairs"].append(pair["host_ifname"])
                report["changed"] = report["changed"] or bool(pairs)
                continue
            try:
                self._visit(sockets, netns, pairs, host_links, created, check_mode, report, before)
            except CreateFailed as exc:
                report["errors"].append(str(exc))
            finally:
                sockets.forget(netns)
        report["before"] = [before.get(p["host_ifname"]) for p in self.pairs if before.get(p["host_ifname"])] \
            + [v for v in hp.removed_views if v]
        if self.state == "present":
            report["after"] = [self._after(pair, host_links, before) for pair in hp.visit]
        else:
            report["after"] = []
        return report

    def _runtime_namespaces(self, existing):
        """({netns_path: why it cannot be wired}, errors) of the pairs' runtime namespaces
        (state present only: deleting a host end needs no namespace).  A namespace may be
        listed once: two files of one namespace (or a file of a named one) are refused."""
        paths = sorted({p["netns_path"] for p in self.pairs if p.get("netns_path")}) if self.state == "present" else []
        unusable = {}
        for path in paths:
            problem = nsfs.netns_file_error(path)
            if problem:
                unusable[path] = problem
        errors, seen = [], {}
        if len(paths) > len(unusable):
            for ref in sorted({netns_ref(p) for p in self.pairs if netns_ref(p) in existing or netns_ref(p) in paths}):
                if ref in unusable:
                    continue
                try:
                    key = nsfs.netns_id(nsfs.netns_file(ref))
                except OSError:
                    continue  # gone meanwhile: reported where it is used
                if key in seen:
                    errors.append("netns %s and %s are the same network namespace; list its pairs under one of "
                                  "them" % (seen[key], ref))
                seen.setdefault(key, ref)
        return unusable, errors

    def _visit(self, sockets, netns, pairs, host_links, created, check_mode, report, before):
        ipr = sockets[netns]
        np = plan_netns(pairs, host_links, observe_netns(ipr), self.purge, self.adopt, created)
        for pair, view in zip([p for p in pairs if p["host_ifname"] not in created], np.before):
            before[pair["host_ifname"]] = view
        if np.errors:
            report["errors"].extend(np.errors)
            return
        if np.rebuild:
            names = [p["host_ifname"] for p in np.rebuild]
            report["created"].extend(names)
            report["changed_pairs"].extend(names)
            report["changed"] = True
            if check_mode:
                return
            for name in names:
                _delete(sockets[None], host_links.pop(name)["index"])
            self._create(sockets[None], np.rebuild, host_links)
            created = set(created) | set(names)
            np = plan_netns(pairs, host_links, observe_netns(ipr), self.purge, self.adopt, created)
            if np.errors or np.rebuild:
                report["errors"].extend(np.errors or ["the peer of %s did not show up in netns %s"
                                                      % (np.rebuild[0]["host_ifname"], netns)])
                return
        report["changed_pairs"].extend(n for n in np.changed_pairs if n not in report["changed_pairs"])
        if np.loopback_up:
            report["loopback_up"].append(netns)
        report["changed"] = report["changed"] or np.changed
        if not check_mode:
            apply_netns(ipr, np)

    @staticmethod
    def _after(pair, host_links, before):
        host = host_links.get(pair["host_ifname"])
        view = desired_view(pair, host["mac"] if host is not None else None)
        old = before.get(pair["host_ifname"])
        if view["mtu"] is None:
            view["mtu"] = host["mtu"] if host is not None else (old or {}).get("mtu")
        return view


def run(params, check_mode, diff):
    """The veth_pair module's work: ``params`` as its argument spec gives them; the result dict."""
    pairs, errors = normalize_pairs(params["pairs"])
    if errors:
        raise StepFailed("; ".join(errors))
    reconciler = VethReconciler(pairs, params["state"], params["purge"], params["adopt"], params["state_dir"])
    try:
        with netlink.Sockets() as sockets:
            report = reconciler.run(sockets, check_mode)
    except (OSError, netlink.NetlinkError, netlink.NamespaceMissing) as exc:
        raise StepFailed("veth pairs %s: %s" % (", ".join(x["host_ifname"] for x in pairs), exc)) from exc
    if report["errors"]:
        raise StepFailed("; ".join(report["errors"]))
    links = report["host_links"]
    result = dict(
        changed=report["changed"],
        pairs=[desired_view(pair, (links.get(pair["host_ifname"]) or {}).get("mac")) for pair in pairs],
        created=report["created"],
        removed=[name for name in report["removed"] if name not in report["changed_pairs"]],
        changed_pairs=report["changed_pairs"],
        loopback_up=report["loopback_up"],
    )
    if diff:
        result["diff"] = dict(before={"pairs": report["before"]}, after={"pairs": report["after"]})
    return result
