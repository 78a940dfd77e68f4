# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reconcile IPv4 and IPv6 routes in table main.  Ours carry route protocol 157 ("crossnet").

The kernel has no scope for an IPv6 route (it reads back as universe) and stores an IPv6 route
given metric 0 as metric 1024 (``ip -6 route`` does the same): both are normalised here so
that what is listed compares equal to what is read back."""

from __future__ import annotations

import os

from ansible_collections.crossnet.routed.plugins.module_utils import names as namerules
from ansible_collections.crossnet.routed.plugins.module_utils import netlink
from ansible_collections.crossnet.routed.plugins.module_utils.failure import StepFailed

PROTOCOL = 157
PROTOCOL_NAME = "crossnet"
RT_PROTOS_DIR = "/etc/iproute2/rt_protos.d"
RT_PROTOS_FILE = "crossnet.conf"
RT_PROTOS_LINE = "%d\t%s\n" % (PROTOCOL, PROTOCOL_NAME)
TABLE_MAIN = 254
AF_INET, AF_INET6 = 2, 10
IPV6_DEFAULT_METRIC = 1024
RTN_UNICAST = 1
RTNH_F_ONLINK = 4
SCOPES = {"universe": 0, "link": 253, "host": 254}
SCOPE_NAMES = {v: k for k, v in SCOPES.items()}
HOST_NS = None  # key of the namespace the module runs in


def normalize_routes(routes):
    """Fill defaults, canonicalise destinations; returns (routes, errors)."""
    import netaddr

    out, errors = [], []
    for raw in routes:
        route = dict(raw)
        dest = route.get("dest")
        try:
            net = netaddr.IPNetwork("0.0.0.0/0" if dest == "default" else dest)
            if "/" not in str(dest) and dest != "default":
                net = netaddr.IPNetwork("%s/%d" % (net.ip, 32 if net.version == 4 else 128))
            if net.ip != net.network:
                raise ValueError("host bits set (did you mean %s?)" % net.cidr)
            route["dest"] = str(net.cidr)
            if route.get("gateway"):
                gateway = netaddr.IPAddress(route["gateway"])
                if gateway.version != net.version:
                    raise ValueError("gateway %s is not of the destination's family" % route["gateway"])
                route["gateway"] = str(gateway)
        except Exception as exc:
            errors.append("route %r: %s" % (dest, exc))
            continue
        if not route.get("gateway") and not route.get("dev"):
            errors.append("route %s needs a gateway or a dev" % route["dest"])
        route.setdefault("netns", None)
        route["metric"] = int(route.get("metric") or 0)
        route["onlink"] = bool(route.get("onlink"))
        route.setdefault("gateway", None)
        route.setdefault("dev", None)
        route["scope"] = route.get("scope") or ("universe" if route["gateway"] else "link")
        if net.version == 6:
            route["metric"] = route["metric"] or IPV6_DEFAULT_METRIC
            route["scope"] = "universe" if route["scope"] in SCOPES else route["scope"]
        if route["scope"] not in SCOPES:
            errors.append("route %s: scope must be one of %s" % (route["dest"], ", ".join(SCOPES)))
        out.append(route)
    for key in namerules.repeated((route_key(r) for r in out), key=str):
        errors.append("route %s (netns %s, metric %d) is listed more than once" % (key[1], key[0] or "host", key[2]))
    return out, errors


def route_key(route):
    return (route["netns"], route["dest"], route["metric"])


# -- observation -----------------------------------------------------------------------------
def route_view(msg, names):
    """Kernel route message -> comparable dict (dev by name: indexes differ between runs)."""
    dst = msg.get_attr("RTA_DST") or ("::" if msg["family"] == AF_INET6 else "0.0.0.0")
    oif = msg.get_attr("RTA_OIF")
    return {
        "dest": "%s/%d" % (dst, msg["dst_len"]),
        "gateway": msg.get_attr("RTA_GATEWAY"),
        "dev": names.get(oif, oif),
        "scope": SCOPE_NAMES.get(msg["scope"], msg["scope"]),
        "onlink": bool(msg["flags"] & RTNH_F_ONLINK),
        "metric": msg.get_attr("RTA_PRIORITY") or 0,
        "protocol": msg["proto"],
    }


def read_main(ipr, names, netns=None):
    """Routes of table main of both families by (dest, metric), from one dump each; ``names``:
    link index -> name."""
    routes = {}
    for family in (AF_INET, AF_INET6):
        for msg in netlink.dump(ipr.get_routes, family=family, table=TABLE_MAIN):
            if msg["type"] != RTN_UNICAST:  # (get_routes keeps table main only)
                continue
            view = route_view(msg, names)
            view["netns"] = netns
            routes[(view["dest"], view["metric"])] = view
    return routes


def observe(sockets, netns):
    """(routes by (dest, metric), link name -> index) of table main, or None if netns is missing."""
    try:
        ipr = sockets[netns]
    except netlink.NamespaceMissing:
        return None
    indexes = {link.get_attr("IFLA_IFNAME"): link["index"] for link in netlink.dump(ipr.get_links)}
    names = {index: name for name, index in indexes.items()}
    return {"routes": read_main(ipr, names, netns), "links": indexes}


# -- planning (pure) -------------------------------------------------------------------------
def same_path(want, have):
    return all(want[k] == have[k] for k in ("gateway", "dev", "scope", "onlink"))


def public(route):
    return {k: route[k] for k in ("netns", "dest", "gateway", "dev", "scope", "onlink", "metric")}


class Plan:
    def __init__(self):
        self.errors = []
        self.add = []
        self.replace = []
        self.delete = []
        self.before = []
        self.after = []

    @property
    def changed(self):
        return bool(self.add or self.replace or self.delete)


def plan(routes, state, views, purge=False, adopt=False, check_mode=False):
    """Pure.  ``views``: netns (None = host) -> observe() result (None: namespace missing)."""
    result = Plan()
    listed = set()
    for route in routes:
        netns, key = route["netns"], (route["dest"], route["metric"])
        listed.add(route_key(route))
        view = views.get(netns)
        where = "netns %s" % netns if netns else "the host namespace"
        if view is None:
            if state == "present" and not check_mode:
                result.errors.append("route %s: network namespace %s does not exist" % (route["dest"], netns))
            elif state == "present":
                result.add.append(route)
                result.after.append(public(route))
            continue
        have = view["routes"].get(key)
        if state == "absent":
            if have is None:
                continue
            if have["protocol"] != PROTOCOL and not adopt:
                result.errors.append("route %s in %s has protocol %s, not crossnet (%d); set adopt=true to "
                                     "delete it anyway" % (route["dest"], where, have["protocol"], PROTOCOL))
                continue
            result.delete.append(have)
            result.before.append(public(have))
            continue
        if route["dev"] and route["dev"] not in view["links"] and not check_mode:
            result.errors.append("route %s: device %s does not exist in %s" % (route["dest"], route["dev"], where))
            continue
        if have is not None and have["protocol"] != PROTOCOL and not adopt:
            result.errors.append("route %s in %s exists with protocol %s, not crossnet (%d); set adopt=true to "
                                 "take it over" % (route["dest"], where, have["protocol"], PROTOCOL))
            continue
        result.after.append(public(route))
        if have is None:
            result.add.append(route)
            continue
        result.before.append(public(have))
        if have["protocol"] != PROTOCOL or not same_path(route, have):
            result.replace.append(route)
    if state == "present" and purge:
        for netns, view in sorted(views.items(), key=lambda item: item[0] or ""):
            for (dest, metric), have in sorted((view or {}).get("routes", {}).items()):
                if have["protocol"] == PROTOCOL and (netns, dest, metric) not in listed:
                    result.delete.append(have)
                    result.before.append(public(have))
    return result


# -- applying --------------------------------------------------------------------------------
def spec(route, links):
    address, prefixlen = route["dest"].split("/")
    spec = {"dst": address, "dst_len": int(prefixlen), "table": TABLE_MAIN, "proto": PROTOCOL,
            "scope": SCOPES[route["scope"]], "priority": route["metric"], "type": RTN_UNICAST}
    if route["gateway"]:
        spec["gateway"] = route["gateway"]
    if route["dev"]:
        spec["oif"] = links[route["dev"]]
    if route["onlink"]:
        spec["flags"] = RTNH_F_ONLINK
    return spec


def delete(ipr, have):
    """Delete the route ``have`` (a route_view)."""
    address, prefixlen = have["dest"].split("/")
    ipr.route("del", dst=address, dst_len=int(prefixlen), table=TABLE_MAIN, priority=have["metric"],
              proto=have["protocol"], scope=SCOPES.get(have["scope"], have["scope"]))


def apply(sockets, result, views):
    for have in result.delete:
        try:
            delete(sockets[have["netns"]], have)
        except netlink.NamespaceMissing:
            pass  # removed since we looked: its routes went with it
        except netlink.NetlinkError as exc:
            # the kernel matches the scope on delete (pyroute2 sends universe unless told), so
            # ESRCH/ENODEV here only means the route went with its device meanwhile
            if netlink.error_code(exc) not in (netlink.ESRCH, netlink.ENODEV):
                raise
    for route in result.replace + result.add:
        sockets[route["netns"]].route("replace", **spec(route, views[route["netns"]]["links"]))


def protocol_name_file(directory=RT_PROTOS_DIR):
    """(path, needs_write) for the file naming protocol 157, or (None, False) without the directory."""
    if not os.path.isdir(directory):
        return None, False
    path = os.path.join(directory, RT_PROTOS_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            return path, handle.read() != RT_PROTOS_LINE
    except FileNotFoundError:
        return path, True


def ours_left_in_host(result, views):
    """Whether routes of protocol 157 remain in the host namespace once ``result`` is applied."""
    view = views.get(HOST_NS) or {"routes": {}}
    left = {key for key, have in view["routes"].items() if have["protocol"] == PROTOCOL}
    left -= {(have["dest"], have["metric"]) for have in result.delete if have["netns"] is HOST_NS}
    left |= {(r["dest"], r["metric"]) for r in result.add + result.replace if r["netns"] is HOST_NS}
    return bool(left)


def stale_protocol_name_file(directory=RT_PROTOS_DIR):
    """The path of our protocol name file if it exists, else None."""
    path = os.path.join(directory, RT_PROTOS_FILE)
    return path if os.path.exists(path) else None


def write_protocol_name(path):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(RT_PROTOS_LINE)


def kept(views, keep):
    """Our host routes to the destinations ``keep``, as listed routes: so that purge leaves them."""
    if not keep:
        return []
    keep = set(keep)
    view = views.get(HOST_NS) or {"routes": {}}
    return [public(have) for have in view["routes"].values()
            if have["protocol"] == PROTOCOL and have["dest"] in keep]


def run(params, check_mode, diff, keep=()):
    """The host_route module's work: ``params`` as its argument spec gives them; the result dict.

    ``keep``: destinations in the host namespace whose routes of ours are left exactly as they
    are, listed or not (routes toward a peer whose node address is unknown this run).
    """
    routes, errors = normalize_routes(params["routes"])
    for route in routes:
        if route["netns"] is not None and namerules.netns_error(route["netns"]):
            errors.append("route %s: netns %r %s" % (route["dest"], route["netns"], namerules.netns_error(route["netns"])))
        if route["dev"] is not None and namerules.ifname_error(route["dev"]):
            errors.append("route %s: dev %r %s" % (route["dest"], route["dev"], namerules.ifname_error(route["dev"])))
    if errors:
        raise StepFailed("; ".join(errors))
    present = params["state"] == "present"
    namespaces = [None] + sorted({r["netns"] for r in routes if r["netns"] is not None})
    try:
        with netlink.Sockets() as sockets:
            views = {netns: observe(sockets, netns) for netns in namespaces}
            listed = {route_key(r) for r in routes}
            routes += [r for r in kept(views, keep) if route_key(r) not in listed]
            result = plan(routes, params["state"], views, params["purge"], params["adopt"], check_mode)
            if result.errors:
                raise StepFailed("; ".join(result.errors))
            names_file, names_stale = protocol_name_file() if present else (None, False)
            if present and not routes:
                names_stale = False  # nothing of ours to name
            drop_names = None
            if (params["purge"] or not present) and not ours_left_in_host(result, views):
                # the last of our routes in the host namespace is gone: so is the name for them
                drop_names, names_stale = stale_protocol_name_file(), False
            if not check_mode:
                apply(sockets, result, views)
                if names_stale:
                    write_protocol_name(names_file)
                if drop_names:
                    os.unlink(drop_names)
    except (OSError, netlink.NetlinkError) as exc:
        raise StepFailed("routes %s: %s" % (", ".join(r["dest"] for r in routes), exc)) from exc
    out = dict(
        changed=result.changed or names_stale or bool(drop_names),
        routes=[public(r) for r in routes],
        added=[public(r) for r in result.add],
        removed=[public(r) for r in result.delete],
        replaced=[public(r) for r in result.replace],
    )
    if diff:
        out["diff"] = dict(before={"routes": result.before}, after={"routes": result.after})
        if names_stale or drop_names:
            out["diff"]["before"]["protocol_name_file"] = drop_names
            out["diff"]["after"]["protocol_name_file"] = names_file if names_stale else None
    return out
