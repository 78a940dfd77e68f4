# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The floor: one host's crossnet end state written directly, with no Ansible.

Runs ON the host (inside its network and mount namespaces) and reads the host's plan, the
output of the crossnet.routed.network_plan filter, as JSON:

    floor.py apply PLAN.json      namespaces, veths, the VXLAN device (its address, a neighbour
                                  and a forwarding entry per peer), addresses, routes, gateway
                                  neighbours, proxy ARP, ip_forward, masquerade + forward chains
    floor.py teardown PLAN.json   remove all of it again
    floor.py census               print counts of what the collection manages (JSON)

Everything is batched: one ``ip -batch`` in the host namespace (with a VXLAN device: one for
the links and the device's address and neighbours, one ``bridge -batch`` for its forwarding
entries, one for the routes), one ``ip -n NS -batch`` per container namespace, one
``iptables-restore --noflush`` and direct /proc/sys writes.  It is the cheapest way a script can
reach the state the collection reaches, so it is what the collection's wall time is compared to.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import json
import os
import subprocess
import sys

PROTO = 157
VXLAN_ALIAS = "crossnet:vxlan"
CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
FORWARD_SAVE = "/tmp/xb-floor-ip_forward"
# ip forks per container namespace: a few at a time keeps both cores busy without thrashing.
NETNS_WORKERS = 4


def host_mac(index):
    # Locally administered unicast; the index makes it unique per host.
    return "02:78:62:%02x:%02x:%02x" % ((index >> 16) & 0xFF, (index >> 8) & 0xFF, index & 0xFF)


def ip_batch(lines, netns=None, tool="ip"):
    argv = [tool, "-batch", "-"] if netns is None else [tool, "-n", netns, "-batch", "-"]
    subprocess.run(argv, input="".join(line + "\n" for line in lines), text=True, check=True)


def iptables_restore(text):
    subprocess.run(["iptables-restore", "--noflush"], input=text, text=True, check=True)


def write_sysctl(path, value):
    with open(os.path.join("/proc/sys/net", path), "w", encoding="ascii") as handle:
        handle.write(value)


def route_line(route, verb="add"):
    words = ["route", verb, route["dest"]]
    if route.get("gateway"):
        words += ["via", route["gateway"]]
    words += ["dev", route["dev"]]
    if route.get("scope"):
        words += ["scope", route["scope"]]
    if route.get("onlink"):
        words.append("onlink")
    words += ["proto", str(PROTO)]
    return " ".join(words)


def gateway_routes(pair):
    """The container's routes via its gateway: the gateway on-link, the default route via it."""
    dev = pair["peer_ifname"]
    return [{"dest": "%s/32" % pair["gateway"], "dev": dev, "scope": "link"},
            {"dest": "0.0.0.0/0", "gateway": pair["gateway"], "dev": dev}]


def vxlan_lines(tunnel):
    """(``ip -batch`` lines, ``bridge -batch`` lines) of what vxlan_tunnel makes of ``tunnel``:
    the device (learning off, no group), its alias, MAC, MTU and /32 address, and per peer a
    permanent neighbour (VTEP -> MAC) and forwarding entry (MAC -> node address)."""
    name = tunnel["name"]
    mac = " address %s" % tunnel["mac"] if tunnel.get("mac") else ""
    mtu = " mtu %d" % tunnel["mtu"] if tunnel.get("mtu") else ""
    ip = ["link add %s%s%s type vxlan id %d local %s dstport %d nolearning"
          % (name, mac, mtu, tunnel["vni"], tunnel["local"], tunnel["port"]),
          "link set dev %s alias %s up" % (name, VXLAN_ALIAS)]
    if tunnel.get("address"):
        ip.append("addr add %s/32 dev %s" % (tunnel["address"], name))
    ip += ["neigh replace %s lladdr %s dev %s nud permanent" % (peer["address"], peer["mac"], name)
           for peer in tunnel["peers"]]
    fdb = ["fdb replace %s dev %s dst %s self permanent" % (peer["mac"], name, peer["remote"])
           for peer in tunnel["peers"]]
    return ip, fdb


def apply(plan):
    pairs = plan["veth_pairs"]
    macs = {pair["host_ifname"]: host_mac(i + 1) for i, pair in enumerate(pairs)}
    host = ["netns add %s" % ns for ns in plan["namespaces"]]
    for pair in pairs:
        mtu = " mtu %d" % pair["mtu"] if pair.get("mtu") else ""
        host.append("link add %s address %s%s type veth peer name %s netns %s%s"
                    % (pair["host_ifname"], macs[pair["host_ifname"]], mtu,
                       pair["peer_ifname"], pair["netns"], mtu))
        host.append('link set dev %s alias crossnet:%s up' % (pair["host_ifname"], pair["netns"]))
    if plan.get("vxlan"):  # the tunnel before the routes through it, as host_network does
        lines, fdb = vxlan_lines(plan["vxlan"])
        ip_batch(host + lines)
        ip_batch(fdb, tool="bridge")
        host = []
    host += [route_line(r) for r in plan["routes"] if not r.get("netns")]
    ip_batch(host)

    inside = {ns: ["link set lo up"] for ns in plan["namespaces"]}
    for pair in pairs:
        lines = inside[pair["netns"]]
        lines += ["addr add %s dev %s" % (a, pair["peer_ifname"]) for a in pair["addresses"]]
        lines.append("link set %s up" % pair["peer_ifname"])
        if pair.get("gateway"):
            lines.append("neigh replace %s lladdr %s dev %s nud permanent"
                         % (pair["gateway"], macs[pair["host_ifname"]], pair["peer_ifname"]))
            # what veth_pair installs for a pair with a gateway
            lines += [route_line(r) for r in gateway_routes(pair)]
    for route in plan["routes"]:
        if route.get("netns"):
            inside[route["netns"]].append(route_line(route))
    with concurrent.futures.ThreadPoolExecutor(NETNS_WORKERS) as pool:
        for future in [pool.submit(ip_batch, lines, ns) for ns, lines in inside.items()]:
            future.result()

    for ifname in plan["proxy_arp_interfaces"]:
        write_sysctl("ipv4/conf/%s/proxy_arp" % ifname, "1")
        write_sysctl("ipv4/neigh/%s/proxy_delay" % ifname, "0")
        write_sysctl("ipv4/conf/%s/rp_filter" % ifname, "1")  # the role asks for rp_filter
    with open("/proc/sys/net/ipv4/ip_forward", encoding="ascii") as handle:
        before = handle.read().strip()
    if not os.path.exists(FORWARD_SAVE):
        with open(FORWARD_SAVE, "w", encoding="ascii") as handle:
            handle.write(before)
    write_sysctl("ipv4/ip_forward", "1")

    masq, fwd = plan["masquerade"], plan["forwarding"]
    rules = ["*nat", ":CROSSNET-POSTROUTING - [0:0]"]
    rules += ["-A CROSSNET-POSTROUTING -d %s -j RETURN" % d for d in masq["exclude"]]
    rules += ["-A CROSSNET-POSTROUTING -s %s -j MASQUERADE" % s for s in masq["sources"]]
    rules += ["-I POSTROUTING 1 -m comment --comment crossnet -j CROSSNET-POSTROUTING", "COMMIT",
              "*filter", ":CROSSNET-FORWARD - [0:0]"]
    for net in fwd["container_networks"]:
        rules += ["-A CROSSNET-FORWARD -s %s -j ACCEPT" % net, "-A CROSSNET-FORWARD -d %s -j ACCEPT" % net]
    rules += ["-I FORWARD 1 -m comment --comment crossnet -j CROSSNET-FORWARD", "COMMIT"]
    iptables_restore("\n".join(rules) + "\n")


def teardown(plan):
    iptables_restore("\n".join([
        "*nat",
        "-D POSTROUTING -m comment --comment crossnet -j CROSSNET-POSTROUTING",
        "-F CROSSNET-POSTROUTING", "-X CROSSNET-POSTROUTING", "COMMIT",
        "*filter",
        "-D FORWARD -m comment --comment crossnet -j CROSSNET-FORWARD",
        "-F CROSSNET-FORWARD", "-X CROSSNET-FORWARD", "COMMIT"]) + "\n")
    # Deleting the host ends takes the peers, the /32 routes and the sysctls with them; deleting
    # the VXLAN device its address, neighbours, forwarding entries and the routes through it.
    lines = ["link del %s" % pair["host_ifname"] for pair in plan["veth_pairs"]]
    if plan.get("vxlan"):
        lines.append("link del %s" % plan["vxlan"]["name"])
    lines += ["netns del %s" % ns for ns in plan["namespaces"]]
    ip_batch(lines)
    subprocess.run(["ip", "route", "flush", "proto", str(PROTO)], check=True)
    if os.path.exists(FORWARD_SAVE):
        with open(FORWARD_SAVE, encoding="ascii") as handle:
            write_sysctl("ipv4/ip_forward", handle.read().strip())
        os.unlink(FORWARD_SAVE)


# -- census ------------------------------------------------------------------------------------

def _ip_json(*args, tool="ip"):
    out = subprocess.run([tool, "-j"] + list(args), capture_output=True, text=True, check=True).stdout
    return json.loads(out or "[]")


def vxlan_config(tunnel):
    """A VXLAN device's settings as one line (census: the plan's and the kernel's must match)."""
    return "%s vni %s port %s local %s mtu %s mac %s" % (
        tunnel["name"], tunnel["vni"], tunnel["port"], tunnel["local"], tunnel["mtu"], tunnel["mac"])


def _vxlan_counts():
    """Our VXLAN devices (by alias), up, their settings, addresses, permanent neighbours and
    forwarding entries (with a destination)."""
    devices = [l for l in _ip_json("-d", "link", "show", "type", "vxlan") if l.get("ifalias") == VXLAN_ALIAS]
    counts = {"vxlan_devices": len(devices), "vxlan_up": sum(1 for l in devices if "UP" in l.get("flags", [])),
              "vxlan_config": [], "vxlan_addresses": 0, "vxlan_permanent_neigh": 0, "vxlan_fdb": 0}
    for link in devices:
        name, data = link["ifname"], link["linkinfo"]["info_data"]
        counts["vxlan_config"].append(vxlan_config({"name": name, "vni": data["id"], "port": data["port"],
                                                    "local": data["local"], "mtu": link["mtu"],
                                                    "mac": link["address"]}))
        counts["vxlan_addresses"] += sum(len(a.get("addr_info", [])) for a in _ip_json("-4", "addr", "show", "dev", name))
        counts["vxlan_permanent_neigh"] += sum(1 for n in _ip_json("neigh", "show", "dev", name)
                                               if "PERMANENT" in n.get("state", []))
        counts["vxlan_fdb"] += sum(1 for f in _ip_json("fdb", "show", "dev", name, tool="bridge")
                                   if f.get("dst") and "permanent" in f.get("state", ""))
    counts["vxlan_config"].sort()
    return counts


def _inside_counts():
    """Counts inside the namespace this thread is in, from /proc (no fork per namespace)."""
    with open("/proc/thread-self/net/route", encoding="ascii") as handle:
        routes = len(handle.readlines()) - 1
    with open("/proc/thread-self/net/arp", encoding="ascii") as handle:
        # flags 0x4 = ATF_PERM
        perm = sum(1 for line in handle.readlines()[1:] if int(line.split()[2], 16) & 0x4)
    with open("/proc/thread-self/net/dev", encoding="ascii") as handle:
        links = len(handle.readlines()) - 2
    with open("/proc/thread-self/net/fib_trie", encoding="ascii") as handle:
        trie = handle.read()
    # In the Local table every local address is a leaf "|-- A.B.C.D" followed by "/32 host LOCAL".
    addresses, leaf = set(), None
    for line in trie.partition("Local:")[2].splitlines():
        line = line.strip()
        if line.startswith("|-- "):
            leaf = line[4:]
        elif line == "/32 host LOCAL" and leaf and not leaf.startswith("127."):
            addresses.add(leaf)
    return {"routes": routes, "permanent_neigh": perm, "addresses": len(addresses), "links": links}


def _sysctl(path):
    with open(os.path.join("/proc/sys/net", path), encoding="ascii") as handle:
        return handle.read().strip()


def census():
    libc = ctypes.CDLL(None, use_errno=True)
    names = sorted(os.listdir(NETNS_DIR)) if os.path.isdir(NETNS_DIR) else []
    veths = [l for l in _ip_json("link", "show", "type", "veth")
             if str(l.get("ifalias", "")).startswith("crossnet:")]
    up = sum(1 for l in veths if "UP" in l.get("flags", []))
    proxy = delay = rp_filter = 0
    for link in veths:
        proxy += _sysctl("ipv4/conf/%s/proxy_arp" % link["ifname"]) == "1"
        delay += _sysctl("ipv4/neigh/%s/proxy_delay" % link["ifname"]) == "0"
        rp_filter += _sysctl("ipv4/conf/%s/rp_filter" % link["ifname"]) == "1"
    forward = _sysctl("ipv4/ip_forward")
    saved = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    rules = [line for line in saved.splitlines() if "CROSSNET-" in line and line.startswith("-A")]

    totals = {"routes": 0, "permanent_neigh": 0, "addresses": 0, "links": 0}
    self_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        for name in names:
            fd = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns %s" % name)
            finally:
                os.close(fd)
            counts = _inside_counts()
            for key in totals:
                totals[key] += counts[key]
    finally:
        libc.setns(self_fd, CLONE_NEWNET)
        os.close(self_fd)
    return {
        "netns": len(names),
        "host_veths": len(veths),
        "host_veths_up": up,
        "host_routes_proto157": len(_ip_json("route", "show", "proto", str(PROTO))),
        "proxy_arp_on": proxy,
        "proxy_delay_0": delay,
        "rp_filter_1": rp_filter,
        "ip_forward": forward,
        "iptables_crossnet_rules": len(rules),
        "netns_routes": totals["routes"],
        "netns_permanent_neigh": totals["permanent_neigh"],
        "netns_addresses": totals["addresses"],
        "netns_links": totals["links"],
        **_vxlan_counts(),
    }


def main(argv):
    if argv[0] == "census":
        print(json.dumps(census(), sort_keys=True))
        return 0
    with open(argv[1], encoding="utf-8") as handle:
        plan = json.load(handle)
    {"apply": apply, "teardown": teardown}[argv[0]](plan)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
