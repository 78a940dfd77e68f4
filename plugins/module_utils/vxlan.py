# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reconcile VXLAN tunnels: one device per tunnel, its VTEP address, and per remote peer a
permanent neighbour entry (peer VTEP address -> peer MAC) and a forwarding entry (peer MAC ->
peer node address).  Routes through a tunnel are host_route's.  A peer with ``address6`` (the
IPv6 link-local address of its device, the next hop of the IPv6 routes toward it: an IPv6
route cannot have an IPv4 one) gets a second neighbour entry, address6 -> peer MAC.

Learning is off and there is no multicast group or all-zero entry: the device sends a frame
only to a MAC it has an entry for, so a host the inventory does not list gets nothing.

Ownership: a device by its alias ``crossnet:vxlan``; the kernel ignores IFLA_IFALIAS on create,
so a name is recorded in ``state_dir/vxlan.json`` before the device is made, as veth does.  The
neighbour and forwarding entries we make are recorded in the same file, per device: an entry on
our device that is not recorded is someone else's, left alone, and refused (unless ``adopt``)
where one of ours must go.
"""

from __future__ import annotations

from ansible_collections.crossnet.routed.plugins.module_utils import names as namerules
from ansible_collections.crossnet.routed.plugins.module_utils import netlink, statefile
from ansible_collections.crossnet.routed.plugins.module_utils.failure import StepFailed

ALIAS = "crossnet:vxlan"
STATE_FILE = "vxlan.json"
DEFAULT_NAME = "crossnet-vxlan"
DEFAULT_VNI = 4096
DEFAULT_PORT = 4789
MAX_VNI = (1 << 24) - 1
# What VXLAN over IPv4 adds to a frame: outer IPv4 20, UDP 8, VXLAN 8, inner Ethernet 14.
OVERHEAD = 50
IFF_UP = 0x1
NUD_PERMANENT = 0x80
NUD_NOARP = 0x40
AF_INET, AF_INET6 = 2, 10
CONFIG = ("vni", "port", "local", "learning")  # fixed when the device is made


# -- input -----------------------------------------------------------------------------------
def _ipv4(text):
    import netaddr  # imported late: the module reports a missing netaddr itself

    if not isinstance(text, str) or not netaddr.valid_ipv4(text.split("/")[0], flags=netaddr.INET_PTON):
        raise ValueError("%r is not an IPv4 address" % (text,))
    bare, dummy, prefix = text.partition("/")
    if prefix not in ("", "32"):
        raise ValueError("%r must be a single address (bare or /32)" % text)
    return str(netaddr.IPAddress(bare))


def _link_local6(text):
    import netaddr

    if not isinstance(text, str) or ":" not in text or not netaddr.valid_ipv6(text):
        raise ValueError("%r is not an IPv6 address" % (text,))
    address = netaddr.IPAddress(text, 6)
    if address not in netaddr.IPNetwork("fe80::/10"):
        raise ValueError("address6 %s is not link-local (fe80::/10)" % address)
    return str(address)


def _mac(text):
    """``aa:bb:cc:dd:ee:ff`` in lower case; a unicast, non-zero MAC."""
    parts = text.split(":") if isinstance(text, str) else []
    if len(parts) != 6 or not all(len(part) == 2 and all(c in "0123456789abcdefABCDEF" for c in part)
                                  for part in parts):
        raise ValueError("%r is not a MAC address (aa:bb:cc:dd:ee:ff)" % (text,))
    mac = text.lower()
    if int(parts[0], 16) & 1 or mac == "00:00:00:00:00:00":
        raise ValueError("%s is not a unicast MAC address" % mac)
    return mac


def _integer(value, low, high, what):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError("%s %r is not an integer in %d-%d" % (what, value, low, high))
    return value


def _given(raw, key, default):
    return default if raw.get(key) is None else raw[key]


def normalize_tunnels(tunnels):
    """Fill defaults and validate; returns (tunnels, errors)."""
    out, errors = [], []
    for raw in tunnels:
        tunnel = {"name": _given(raw, "name", DEFAULT_NAME), "vni": _given(raw, "vni", DEFAULT_VNI),
                  "port": _given(raw, "port", DEFAULT_PORT), "learning": 0}
        where = "tunnel %s" % tunnel["name"]
        problem = namerules.ifname_error(tunnel["name"])
        if problem:
            errors.append("%s: name %s" % (where, problem))
            continue
        try:
            tunnel["vni"] = _integer(tunnel["vni"], 1, MAX_VNI, "vni")
            tunnel["port"] = _integer(tunnel["port"], 1, 65535, "port")
            tunnel["local"] = _ipv4(raw.get("local"))
            tunnel["address"] = _ipv4(raw["address"]) if raw.get("address") else None
            tunnel["mac"] = _mac(raw["mac"]) if raw.get("mac") else None
            tunnel["mtu"] = _integer(raw["mtu"], 68, 65535, "mtu") if raw.get("mtu") is not None else None
            tunnel["peers"] = [_peer(peer) for peer in raw.get("peers") or []]
        except (ValueError, TypeError, KeyError) as exc:
            errors.append("%s: %s" % (where, exc if not isinstance(exc, KeyError) else "a peer needs %s" % exc))
            continue
        for key in ("address", "mac", "remote", "address6"):
            for value in namerules.repeated(peer[key] for peer in tunnel["peers"] if peer[key]):
                errors.append("%s: peer %s %s is listed more than once" % (where, key, value))
        for peer in tunnel["peers"]:
            if peer["address"] == tunnel["address"] or (tunnel["mac"] and peer["mac"] == tunnel["mac"]):
                errors.append("%s: peer %s has the tunnel's own address or MAC" % (where, peer["address"]))
        out.append(tunnel)
    for name in namerules.repeated(tunnel["name"] for tunnel in out):
        errors.append("tunnel %s is listed more than once" % name)
    for vni, port in namerules.repeated((tunnel["vni"], tunnel["port"]) for tunnel in out):
        errors.append("more than one tunnel has VNI %d on UDP port %d" % (vni, port))
    return out, errors


def _peer(raw):
    if not isinstance(raw, dict):
        raise ValueError("a peer must be a dict of address, mac and remote")
    return {"address": _ipv4(raw["address"]), "mac": _mac(raw["mac"]), "remote": _ipv4(raw["remote"]),
            "address6": _link_local6(raw["address6"]) if raw.get("address6") else None, "host": raw.get("host")}


def _neighbours(peer):
    """(ip, mac) of the neighbour entries a peer needs: its VTEP address, and its address6."""
    return [(peer["address"], peer["mac"])] + ([(peer["address6"], peer["mac"])] if peer["address6"] else [])


# -- observation -----------------------------------------------------------------------------
def _link_view(link):
    info = link.get_attr("IFLA_LINKINFO")
    kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
    view = {"index": link["index"], "name": link.get_attr("IFLA_IFNAME"), "kind": kind,
            "alias": link.get_attr("IFLA_IFALIAS"), "mtu": link.get_attr("IFLA_MTU"),
            "up": bool(link["flags"] & IFF_UP), "mac": link.get_attr("IFLA_ADDRESS")}
    if kind == "vxlan":
        data = info.get_attr("IFLA_INFO_DATA")
        view.update(vni=data.get_attr("IFLA_VXLAN_ID"), port=data.get_attr("IFLA_VXLAN_PORT"),
                    local=data.get_attr("IFLA_VXLAN_LOCAL"), learning=data.get_attr("IFLA_VXLAN_LEARNING"))
    return view


def observe(ipr):
    """The host's links by name; addresses by link index; every VXLAN device's neighbours
    ``{ip: (mac, state)}`` and forwarding entries ``{mac: [dst, ...]}`` by link index."""
    links = {view["name"]: view for view in map(_link_view, netlink.dump(ipr.get_links))}
    tunnels = {view["index"] for view in links.values() if view["kind"] == "vxlan"}
    addrs, neigh, fdb = {}, {index: {} for index in tunnels}, {index: {} for index in tunnels}
    for msg in netlink.dump(ipr.get_addr, family=AF_INET):
        addrs.setdefault(msg["index"], []).append("%s/%d" % (msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS"),
                                                             msg["prefixlen"]))
    if tunnels:
        for family in (AF_INET, AF_INET6):
            for msg in netlink.dump(ipr.get_neighbours, family=family):
                if msg["ifindex"] in tunnels and msg.get_attr("NDA_DST"):
                    neigh[msg["ifindex"]][msg.get_attr("NDA_DST")] = (msg.get_attr("NDA_LLADDR"), msg["state"])
        for msg in netlink.dump(ipr.get_fdb):
            if msg["ifindex"] in tunnels and msg.get_attr("NDA_LLADDR") and msg.get_attr("NDA_DST"):
                fdb[msg["ifindex"]].setdefault(msg.get_attr("NDA_LLADDR"), []).append(msg.get_attr("NDA_DST"))
    return {"links": links, "addrs": addrs, "neigh": neigh, "fdb": fdb}


def owned(link, creating=()):
    return link["alias"] == ALIAS or (not link["alias"] and link["name"] in creating)


def uplink_mtu(view, local):
    """The MTU of the link that holds address ``local``, or None."""
    for link in view["links"].values():
        if any(cidr.split("/")[0] == local for cidr in view["addrs"].get(link["index"], ())):
            return link["mtu"]
    return None


def describe(link, view):
    """A device as the diff shows it: its settings and the peers its entries make up."""
    if link is None:
        return None
    neigh, fdb = view["neigh"].get(link["index"], {}), view["fdb"].get(link["index"], {})
    link_local = {mac: address for address, (mac, state) in neigh.items() if ":" in address and state & NUD_PERMANENT}
    peers = []
    for address, (mac, dummy) in sorted(neigh.items()):
        if ":" in address:
            continue  # shown as the address6 of the peer with its MAC
        for remote in fdb.get(mac, [None]):
            peer = {"address": address, "mac": mac, "remote": remote}
            if mac in link_local:
                peer["address6"] = link_local[mac]
            peers.append(peer)
    addresses = [cidr.split("/")[0] for cidr in view["addrs"].get(link["index"], [])]
    return {"name": link["name"], "vni": link.get("vni"), "port": link.get("port"), "local": link.get("local"),
            "address": addresses[0] if addresses else None, "mac": link["mac"], "mtu": link["mtu"], "peers": peers}


def public(tunnel):
    return {"name": tunnel["name"], "vni": tunnel["vni"], "port": tunnel["port"], "local": tunnel["local"],
            "address": tunnel["address"], "mac": tunnel["mac"], "mtu": tunnel["mtu"],
            "peers": sorted((dict({"address": p["address"], "mac": p["mac"], "remote": p["remote"]},
                                  **({"address6": p["address6"]} if p.get("address6") else {}))
                             for p in tunnel["peers"]), key=lambda peer: peer["address"])}


# -- planning (pure) -------------------------------------------------------------------------
class Plan:
    def __init__(self, links):
        self.links = {name: link["index"] for name, link in links.items()}  # existing devices by name
        self.errors = []
        self.delete = []  # link views
        self.create = []  # tunnels
        self.fixes = []  # (tunnel, {"ifalias"/"mtu"/"address"/"state": value})
        self.addr_add = []  # (tunnel, address)
        self.addr_del = []  # (tunnel, cidr)
        self.neigh_del = []  # (tunnel, ip)
        self.fdb_del = []  # (tunnel, mac, dst)
        self.neigh_set = []  # (tunnel, ip, mac)
        self.fdb_set = []  # (tunnel, peer)
        self.before = []
        self.after = []

    @property
    def changed(self):
        return any((self.delete, self.create, self.fixes, self.addr_add, self.addr_del, self.neigh_del,
                    self.fdb_del, self.neigh_set, self.fdb_set))


def plan(tunnels, state, view, record, purge=False, adopt=False, keep=()):
    """Pure.  ``view``: observe(); ``record``: the state file's document (see ``Record``);
    ``keep``: peer VTEP addresses whose entries stay as they are, listed or not."""
    links, listed = view["links"], {tunnel["name"] for tunnel in tunnels}
    result = Plan(links)
    creating = record.creating
    for tunnel in tunnels:
        link = links.get(tunnel["name"])
        mine = link is not None and owned(link, creating)
        if state == "absent":
            if link is None:
                continue
            if link["kind"] != "vxlan" or (not mine and not adopt):
                result.errors.append("interface %s exists and was not created by crossnet (set adopt=true to "
                                     "delete it anyway)" % tunnel["name"])
                continue
            result.delete.append(link)
            result.before.append(describe(link, view))
            continue
        _plan_tunnel(result, tunnel, link, mine, view, record, adopt, keep)
    if purge or state == "absent":
        for name, link in sorted(links.items()):
            if name not in listed and link["kind"] == "vxlan" and owned(link, creating) and link not in result.delete:
                result.delete.append(link)
                result.before.append(describe(link, view))
    return result


def _clash(tunnel, links):
    """Another VXLAN device on the tunnel's VNI and port (the kernel allows only one)."""
    for link in links.values():
        if link["kind"] == "vxlan" and link["name"] != tunnel["name"] \
                and (link["vni"], link["port"]) == (tunnel["vni"], tunnel["port"]):
            return link
    return None


def _plan_tunnel(result, tunnel, link, mine, view, record, adopt, keep):
    name = tunnel["name"]
    if link is not None and link["kind"] != "vxlan":
        result.errors.append("interface %s exists and is a %s, not a VXLAN device" % (name, link["kind"] or "device"))
        return
    if link is not None and not mine and not adopt:
        result.errors.append("VXLAN device %s exists and was not created by crossnet (set adopt=true to take it "
                             "over)" % name)
        return
    other = _clash(tunnel, view["links"])
    if other is not None and not (owned(other, record.creating) or adopt):
        result.errors.append("VXLAN device %s (not created by crossnet) already uses VNI %d on UDP port %d (set "
                             "adopt=true to replace it)" % (other["name"], tunnel["vni"], tunnel["port"]))
        return
    if tunnel["mtu"] is None:
        mtu = uplink_mtu(view, tunnel["local"])
        if mtu is None:
            result.errors.append("tunnel %s: local address %s is not an address of this host"
                                 % (name, tunnel["local"]))
            return
        tunnel = dict(tunnel, mtu=mtu - OVERHEAD)
    if other is not None:
        result.delete.append(other)
        result.before.append(describe(other, view))
    result.after.append(public(tunnel))
    if link is not None:
        result.before.append(describe(link, view))
        if any(link[key] != tunnel[key] for key in CONFIG):
            result.delete.append(link)  # VNI, port and local are fixed once the device exists
            link = None
    if link is None:
        result.create.append(tunnel)
        result.neigh_set.extend((tunnel, ip, mac) for peer in tunnel["peers"] for ip, mac in _neighbours(peer))
        result.fdb_set.extend((tunnel, peer) for peer in tunnel["peers"])
        if tunnel["address"]:
            result.addr_add.append((tunnel, tunnel["address"]))
        return
    change = {}
    if link["alias"] != ALIAS:
        change["ifalias"] = ALIAS
    if link["mtu"] != tunnel["mtu"]:
        change["mtu"] = tunnel["mtu"]
    if tunnel["mac"] and link["mac"] != tunnel["mac"]:
        change["address"] = tunnel["mac"]
    if not link["up"]:
        change["state"] = "up"
    if change:
        result.fixes.append((tunnel, change))
    want = "%s/32" % tunnel["address"] if tunnel["address"] else None
    have = view["addrs"].get(link["index"], [])
    if want and want not in have:
        result.addr_add.append((tunnel, tunnel["address"]))
    result.addr_del.extend((tunnel, cidr) for cidr in have if cidr != want)
    _plan_entries(result, tunnel, link, view, record.entries(name), adopt, keep)


def _plan_entries(result, tunnel, link, view, recorded, adopt, keep):
    name = tunnel["name"]
    neigh, fdb = view["neigh"].get(link["index"], {}), view["fdb"].get(link["index"], {})
    kept_macs = {neigh[ip][0] for ip in keep if ip in neigh}
    wanted_macs = {peer["mac"] for peer in tunnel["peers"]} | kept_macs
    # a kept peer keeps its IPv6 entry too (same MAC)
    wanted_ips = {ip for peer in tunnel["peers"] for ip, dummy in _neighbours(peer)} | set(keep) \
        | {ip for ip, (mac, dummy) in neigh.items() if ":" in ip and mac in kept_macs}
    for peer in tunnel["peers"]:
        for ip, want in _neighbours(peer):
            mac, state = neigh.get(ip, (None, 0))
            if mac is not None and ip not in recorded["neigh"] and not adopt:
                result.errors.append("%s: neighbour entry %s was not made by crossnet (set adopt=true to take it over)"
                                     % (name, ip))
            elif mac != want or not state & NUD_PERMANENT:
                result.neigh_set.append((tunnel, ip, want))
        dsts = fdb.get(peer["mac"], [])
        if dsts and peer["mac"] not in recorded["fdb"] and not adopt:
            result.errors.append("%s: forwarding entry %s was not made by crossnet (set adopt=true to take it over)"
                                 % (name, peer["mac"]))
            continue
        result.fdb_del.extend((tunnel, peer["mac"], dst) for dst in dsts if dst != peer["remote"])
        if peer["remote"] not in dsts:
            result.fdb_set.append((tunnel, peer))
    result.neigh_del.extend((tunnel, ip) for ip in sorted(neigh) if ip in recorded["neigh"] and ip not in wanted_ips)
    for mac in sorted(fdb):
        if mac in recorded["fdb"] and mac not in wanted_macs:
            result.fdb_del.extend((tunnel, mac, dst) for dst in fdb[mac])


# -- the record ------------------------------------------------------------------------------
class Record:
    """``state_dir/vxlan.json``: devices being created, and per device the entries we made."""

    def __init__(self, state_dir):
        self.state_dir = state_dir
        document = statefile.load(state_dir, STATE_FILE, {})
        document = document if isinstance(document, dict) else {}
        self.creating = set(document.get("creating") or [])
        self.devices = {name: {"neigh": set(entries.get("neigh") or []), "fdb": set(entries.get("fdb") or [])}
                        for name, entries in (document.get("devices") or {}).items()}

    def entries(self, name):
        return self.devices.setdefault(name, {"neigh": set(), "fdb": set()})

    def forget(self, name):
        self.devices.pop(name, None)

    def save(self):
        devices = {name: {key: sorted(values) for key, values in entries.items()}
                   for name, entries in sorted(self.devices.items()) if any(entries.values())}
        if self.creating or devices:
            statefile.save(self.state_dir, STATE_FILE, {"creating": sorted(self.creating), "devices": devices})
        else:
            statefile.remove(self.state_dir, STATE_FILE)


# -- applying --------------------------------------------------------------------------------
def _ignore_gone(call, *codes):
    try:
        call()
    except netlink.NetlinkError as exc:
        if netlink.error_code(exc) not in codes:
            raise


def apply(ipr, result, record):
    for link in result.delete:
        _ignore_gone(lambda: ipr.link("del", index=link["index"]), netlink.ENODEV)
        record.forget(link["name"])  # the kernel removed its entries with it
    record.save()
    indexes = {}
    for tunnel in result.create:
        record.creating.add(tunnel["name"])
        record.save()
        extra = {"address": tunnel["mac"]} if tunnel["mac"] else {}
        ipr.link("add", ifname=tunnel["name"], mtu=tunnel["mtu"], kind="vxlan", state="up",
                 vxlan={"id": tunnel["vni"], "local": tunnel["local"], "port": tunnel["port"], "learning": 0},
                 **extra)
        indexes[tunnel["name"]] = ipr.link("get", ifname=tunnel["name"])[0]["index"]
        ipr.link("set", index=indexes[tunnel["name"]], ifalias=ALIAS)
        record.creating.discard(tunnel["name"])
        record.save()
    links = dict(result.links, **indexes)
    for tunnel, change in result.fixes:
        ipr.link("set", index=links[tunnel["name"]], **change)
    for tunnel, address in result.addr_add:
        ipr.addr("replace", index=links[tunnel["name"]], address=address, prefixlen=32)
    for tunnel, cidr in result.addr_del:
        address, prefixlen = cidr.split("/")
        _ignore_gone(lambda: ipr.addr("del", index=links[tunnel["name"]], address=address, prefixlen=int(prefixlen)),
                     netlink.EADDRNOTAVAIL)
    for tunnel, mac, dst in result.fdb_del:
        _ignore_gone(lambda: ipr.fdb("del", ifindex=links[tunnel["name"]], lladdr=mac, dst=dst,
                                     state=NUD_PERMANENT | NUD_NOARP), netlink.ENOENT)
        record.entries(tunnel["name"])["fdb"].discard(mac)
    for tunnel, ip in result.neigh_del:
        _ignore_gone(lambda: ipr.neigh("del", dst=ip, lladdr="00:00:00:00:00:00", ifindex=links[tunnel["name"]],
                                       state=NUD_PERMANENT), netlink.ENOENT)
        record.entries(tunnel["name"])["neigh"].discard(ip)
    for tunnel, ip, dummy in result.neigh_set:
        record.entries(tunnel["name"])["neigh"].add(ip)
    for tunnel, peer in result.fdb_set:
        record.entries(tunnel["name"])["fdb"].add(peer["mac"])
    record.save()  # before the entries exist: a run killed in between still owns them
    for tunnel, peer in result.fdb_set:
        ipr.fdb("replace", ifindex=links[tunnel["name"]], lladdr=peer["mac"], dst=peer["remote"], state=NUD_PERMANENT)
    for tunnel, ip, mac in result.neigh_set:
        ipr.neigh("replace", dst=ip, lladdr=mac, ifindex=links[tunnel["name"]], state=NUD_PERMANENT)


def run(params, check_mode, diff, keep=()):
    """The vxlan_tunnel module's work: ``params`` as its argument spec gives them; the result dict.

    ``keep``: destinations (CIDRs) whose routes host_route leaves as they are this run (toward a
    peer whose node address is unknown): a peer whose VTEP address is one of them keeps its
    entries too, or the routes would lead nowhere."""
    tunnels, errors = normalize_tunnels(params["tunnels"])
    if errors:
        raise StepFailed("; ".join(errors))
    record = Record(params["state_dir"])
    try:
        with netlink.Sockets() as sockets:
            ipr = sockets[None]
            view = observe(ipr)
            kept = {cidr[:-3] for cidr in keep if cidr.endswith("/32")}
            result = plan(tunnels, params["state"], view, record, params["purge"], params["adopt"], kept)
            if result.errors:
                raise StepFailed("; ".join(result.errors))
            if not check_mode:
                # a recorded creation whose device is gone, or carries its alias by now, is done with
                record.creating = {name for name in record.creating
                                   if name in view["links"] and not view["links"][name]["alias"]}
                apply(ipr, result, record)
    except (OSError, netlink.NetlinkError) as exc:
        raise StepFailed("VXLAN tunnels %s: %s" % (", ".join(t["name"] for t in tunnels) or "(none)", exc)) from exc
    out = dict(
        changed=result.changed,
        tunnels=result.after,
        created=[tunnel["name"] for tunnel in result.create],
        removed=[link["name"] for link in result.delete if link["name"] not in {t["name"] for t in result.create}],
        peers_added=sorted({"%s %s" % (t["name"], ip) for t, ip, dummy in result.neigh_set}
                           | {"%s %s" % (t["name"], p["address"]) for t, p in result.fdb_set}),
        peers_removed=sorted({"%s %s" % (t["name"], ip) for t, ip in result.neigh_del}
                             | {"%s %s" % (t["name"], mac) for t, mac, dummy in result.fdb_del}),
    )
    if diff:
        out["diff"] = dict(before={"tunnels": [view for view in result.before if view]},
                           after={"tunnels": result.after})
    return out
