# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The crossnet.routed.network_diagram filter: the planned container network as Graphviz DOT."""

from __future__ import annotations

DOCUMENTATION = r"""
name: network_diagram
author: crossnet.routed contributors (@crossnet)
version_added: 0.1.0
short_description: Draw the planned container network as a Graphviz DOT graph
description:
  - Plans the container network exactly as C(crossnet.routed.network_plan) does (same input, same
    validation, same errors) and returns the plan as the text of a Graphviz DOT graph, to be rendered
    with C(dot -Tsvg).  Nothing is contacted; C(playbooks/diagram.yml) writes the files.
  - One cluster per host with its node address (and IPv6 node address), uplink,
    C(crossnet_container_cidr) (blocks), VTEP and containers (name, addresses, host-side veth).
  - One edge from each host to each peer it routes to, labelled with the destinations routed there
    (aggregated as planned) and the next hop; solid for a direct route (C(via <node address> dev
    <uplink>)), dashed for the VXLAN overlay (C(via <VTEP> dev crossnet-vxlan onlink)), dotted for the
    routes a host keeps as they are because the peer's node address is unknown.
  - One node C(outside) with the destinations never masqueraded, and an edge from each host that
    masquerades, labelled with its sources.
  - A host without facts (the usual case when nothing is contacted) has no node address from them.
    With O(assume_ansible_host) its C(ansible_host), when that is an IPv4 address, is taken as its
    C(crossnet_node_address) and marked C((ansible_host)) in the picture; a real run takes the node
    address from the facts.  A host that stays without a node address is drawn red with the reason,
    and its peers' routes toward it as kept.  Without facts, C(cross_subnet) hosts cannot tell which
    peers are on-link, and are drawn as the planner decides then (direct).
  - The output is deterministic (hosts, containers and edges sorted by name), so that it can be kept
    under version control and compared.  Every inventory value is quoted and escaped for DOT;
    control characters are shown as C(\xNN).
extends_documentation_fragment:
  - crossnet.routed.inventory_hosts
  - crossnet.routed.plan_options
options:
  assume_ansible_host:
    description:
      - Plan a host that has neither facts nor C(crossnet_node_address) with its C(ansible_host) as
        node address, when that is an IPv4 address.
      - If the inventory is not valid that way (the address collides with another), the plan is made
        without this assumption.
    type: bool
    default: true
  max_items:
    description:
      - At most this many containers per host and destinations per edge are drawn, the rest counted
        (C(... and N more)).  V(0) draws them all.
    type: int
    default: 12
  title:
    description: The first line of the graph's caption.
    type: str
    default: crossnet.routed network plan
"""

EXAMPLES = r"""
- name: Write the picture of the planned network (playbooks/diagram.yml does this)
  ansible.builtin.copy:
    content: "{{ hostvars | crossnet.routed.network_diagram(groups['crossnet_hosts']) }}"
    dest: ./crossnet-network.dot
    mode: "0644"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
_value:
  description: The text of a Graphviz C(digraph), ending with a newline.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.crossnet.routed.plugins.plugin_utils.inventory import host_variables
from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import (
    DEFAULT_GATEWAY,
    DEFAULT_GATEWAY6,
    NETADDR_IMPORT_ERROR,
    VXLAN_DEVICE,
    PlanError,
    parse_address,
    plan_network,
)

FONT = "Helvetica"
DIRECT_STYLE = 'style=solid, color="#1f4e79", fontcolor="#1f4e79"'
OVERLAY_STYLE = 'style=dashed, color="#2e7d32", fontcolor="#2e7d32"'
KEPT_STYLE = 'style=dotted, color="#757575", fontcolor="#757575"'
STYLES = {"direct": DIRECT_STYLE, "overlay": OVERLAY_STYLE, "kept": KEPT_STYLE}
MASQUERADE_STYLE = 'style=solid, color="#e65100", fontcolor="#e65100"'


def quote(text):
    """``text`` as a double-quoted DOT string that Graphviz shows exactly as it is.

    Backslashes and quotes are escaped (so no Graphviz escape such as ``\\N`` or ``\\l`` comes
    from the input), control characters (newlines too) are shown as ``\\xNN``.
    """
    out = ['"']
    for char in str(text):
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char < " " or "\x7f" <= char <= "\x9f" or char in "\u2028\u2029":
            out.append("\\\\x%02x" % ord(char) if ord(char) < 256 else "\\\\u%04x" % ord(char))
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def label(lines, left=False):
    """A multi-line label: each line escaped, joined by Graphviz line breaks (``\\l``: left-justified)."""
    end = "\\l" if left else "\\n"
    body = end.join(quote(line)[1:-1] for line in lines)
    return '"%s%s"' % (body, end if left else "")


def _limited(items, most, what):
    items = list(items)
    if most and len(items) > most:
        return items[:most] + ["... and %d more %s" % (len(items) - most, what)]
    return items


def _text(value):
    return "?" if value is None else str(value)


def _bare(address):
    """A container's address without its /32 or /128."""
    for suffix in ("/32", "/128"):
        if address.endswith(suffix):
            return address[:-len(suffix)]
    return address


def _node_id(ids, name):
    """The DOT id of host ``name`` (a next hop that is no host's cannot be in a valid plan)."""
    return ids.get(name) or "unknown%d" % len(ids)


def _assumed_node_addresses(variables):
    """``{host: address}`` of the hosts to plan with their ansible_host as node address."""
    assumed = {}
    for name, values in variables.items():
        if not isinstance(values, dict) or values.get("crossnet_node_address") is not None:
            continue
        facts = values.get("ansible_facts") or {}
        if isinstance(facts, dict) and "interfaces" in facts:
            continue
        ansible_host = values.get("ansible_host")
        if isinstance(ansible_host, str) and "/" not in ansible_host:
            address, error = parse_address(ansible_host)
            if error is None:
                assumed[name] = str(address)
    return assumed


def _plan(variables, assume, options):
    """(Plan, {host: assumed node address}); raises PlanError as plan_network does."""
    assumed = _assumed_node_addresses(variables) if assume else {}
    if assumed:
        with_assumed = {name: dict(values, crossnet_node_address=assumed[name]) if name in assumed else values
                        for name, values in variables.items()}
        try:
            return plan_network(with_assumed, **options), assumed
        except PlanError:
            pass  # the guess collides with something: plan as a run without facts would
    return plan_network(variables, **options), {}


def _host_lines(name, part, block, assumed):
    preflight = part["preflight"]
    node = _text(preflight["node_address"])
    if name in assumed:
        node += " (ansible_host)"
    elif preflight["node_address"] is None:
        node += " (unknown)"
    lines = ["node address %s" % node]
    if preflight["node_address6"] is not None:
        lines.append("IPv6 node address %s" % preflight["node_address6"])
    lines.append("uplink %s" % _text(preflight["uplink"]))
    for each in block if isinstance(block, list) else [] if block is None else [block]:
        lines.append("block %s" % each)
    vxlan = part["vxlan"]
    if vxlan:
        lines.append("VTEP %s on %s (VNI %s, port %s, MTU %s)"
                     % (vxlan["address"], vxlan["name"], vxlan["vni"], vxlan["port"], vxlan["mtu"]))
    if part["unresolved"]:
        lines.append("unresolved: %s" % part["unresolved"])
    return lines


def _edges(name, part, node_hosts):
    """``[(peer, kind, destinations, next hop text)]`` of host ``name``'s routes to its peers."""
    vtep_hosts = {peer["address"]: peer["host"] for peer in (part["vxlan"] or {}).get("peers") or []}
    direct_hosts = {}
    for peer in part["preflight"]["peers"]:
        if not peer["overlay"]:
            direct_hosts[peer["address"]] = peer["host"]
            if peer.get("address6") is not None:
                direct_hosts[peer["address6"]] = peer["host"]
    grouped = {}
    for route in part["routes"]:
        gateway = route.get("gateway")
        if gateway is None:
            continue  # the own containers' routes, and the /32 route to a peer's VTEP
        if route["dev"] == VXLAN_DEVICE:
            peer = vtep_hosts.get(gateway, node_hosts.get(gateway, gateway))
            key = (peer, "overlay", "via %s dev %s%s" % (gateway, route["dev"], " onlink" if route.get("onlink") else ""))
        else:
            peer = direct_hosts.get(gateway, node_hosts.get(gateway, gateway))
            key = (peer, "direct", "via %s dev %s" % (gateway, _text(route["dev"])))
        grouped.setdefault(key, []).append(route["dest"])
    return [(peer, kind, dests, via) for (peer, kind, via), dests in grouped.items()]


def render(plan, blocks=None, assumed=None, max_items=12, title="crossnet.routed network plan"):
    """The DOT text of ``plan`` (a ``plan.Plan``).  ``blocks``: ``{host: container CIDR}``;
    ``assumed``: ``{host: node address}`` taken from ansible_host."""
    blocks, assumed = blocks or {}, assumed or {}
    names = sorted(plan.names)
    ids = {name: "h%d" % index for index, name in enumerate(names)}
    parts = {name: plan.part(name) for name in names}
    node_hosts = {part["preflight"][key]: name for name, part in parts.items()
                  for key in ("node_address", "node_address6") if part["preflight"][key] is not None}
    out = [
        "// The container network as crossnet.routed plans it (filter crossnet.routed.network_diagram).",
        "// Render with: dot -Tsvg -o network.svg network.dot",
        "digraph crossnet {",
        '  graph [fontname="%s", fontsize=11, rankdir=TB, nodesep=0.4, ranksep=0.9, newrank=true,' % FONT,
        "         labelloc=b, labeljust=l, label=%s];" % label(
            [title, "Boxes between hosts: their routes to each other's containers; an arrow points to the host they lead to.",
             "solid: direct, via the peer's node address; dashed: VXLAN overlay, via the peer's VTEP;",
             "dotted: kept as they are (the peer's node address is unknown).  Orange: masquerade."], left=True),
        '  node [fontname="%s", fontsize=10];' % FONT,
        '  edge [fontname="%s", fontsize=9];' % FONT,
    ]
    for name in names:
        part, host_id = parts[name], ids[name]
        unresolved = part["unresolved"] is not None
        out.append("  subgraph cluster_%s {" % host_id)
        out.append("    graph [label=%s, labelloc=t, style=rounded, color=%s];"
                   % (quote(name), '"#c62828"' if unresolved else '"#424242"'))
        out.append("    %s [shape=box, style=filled, fillcolor=%s, label=%s];"
                   % (host_id, '"#ffebee"' if unresolved else '"#eceff1"',
                      label(_host_lines(name, part, blocks.get(name), assumed), left=True)))
        pairs = sorted(part["veth_pairs"], key=lambda pair: pair["netns"])
        shown = pairs[:max_items] if max_items else pairs
        for index, pair in enumerate(shown):
            container_id = "%s_c%d" % (host_id, index)
            lines = [pair["netns"]] + [_bare(address) for address in pair["addresses"]]
            lines.append("%s / %s" % (pair["peer_ifname"], pair["host_ifname"]))
            out.append("    %s [shape=box, style=rounded, label=%s];" % (container_id, label(lines)))
            out.append("    %s -> %s [dir=none, color=\"#9e9e9e\"];" % (host_id, container_id))
        if len(shown) < len(pairs):
            out.append("    %s_more [shape=plaintext, label=%s];"
                       % (host_id, label(["... and %d more containers" % (len(pairs) - len(shown))])))
            out.append("    %s -> %s_more [dir=none, style=invis];" % (host_id, host_id))
        out.append("  }")

    # The routes between hosts: a box per pair of hosts and kind of route (both directions in it),
    # under the two hosts, with an arrow into each host they lead to.
    directions = {}
    for name in names:
        part = parts[name]
        for peer, kind, dests, via in _edges(name, part, node_hosts):
            directions.setdefault(kind, []).append((name, _text(peer), _limited(dests, max_items, "destinations") + [via]))
        direct = {peer["host"] for peer in part["preflight"]["peers"]}
        for entry in part["unresolved_peers"]:
            peer = entry["host"]
            dests = plan.routed_networks(peer) if parts[peer]["namespaces"] else []
            unknown = "node address"
            if peer in direct:  # only its IPv6 node address is unknown
                dests, unknown = [dest for dest in dests if ":" in dest], "IPv6 node address"
            directions.setdefault("kept", []).append(
                (name, peer, ["routes kept as they are"] + _limited(dests, max_items, "destinations")
                 + ["(%s unknown)" % unknown]))
    edges = {}
    for kind, found in directions.items():
        for source, target, lines in found:
            edges.setdefault((min(source, target), max(source, target), kind), []).append((source, target, lines))
    for (first, second, kind), found in sorted(edges.items()):
        found.sort()
        lines = []
        for source, target, text in found:
            lines.append("%s \u2192 %s" % (source, target))
            lines.extend("  " + line for line in text)
        box = "r_%s_%s_%s" % (_node_id(ids, first), _node_id(ids, second), kind)
        out.append("  %s [shape=box, %s, label=%s];" % (box, STYLES[kind], label(lines, left=True)))
        targets = {target for _source, target, _text in found}
        for end in (first, second):
            out.append("  %s -> %s [%s, dir=%s];" % (_node_id(ids, end), box, STYLES[kind],
                                                     "back" if end in targets else "none"))

    # What is masqueraded: the same exclude on every host, each host's own sources.
    exclude = []
    sources = {}
    for name in names:
        masquerade = parts[name]["masquerade"]
        exclude = masquerade["exclude"]
        if masquerade["sources"]:
            sources[name] = masquerade["sources"]
    if sources:
        lines = ["outside (masqueraded)", "not masqueraded toward:"] + ["  " + dest for dest in _limited(exclude, max_items, "destinations")]
    else:
        lines = ["outside", "nothing is masqueraded"]
    out.append('  outside [shape=box, style="rounded,dashed", color="#e65100", label=%s];' % label(lines, left=True))
    for name in names:
        if name in sources:
            box = "m_%s" % ids[name]
            out.append("  %s [shape=box, %s, label=%s];"
                       % (box, MASQUERADE_STYLE, label(["%s masquerades" % name] + _limited(sources[name], max_items, "sources"),
                                                       left=True)))
            out.append("  %s -> %s [%s, dir=none];" % (ids[name], box, MASQUERADE_STYLE))
            out.append("  %s -> outside [%s];" % (box, MASQUERADE_STYLE))
    out.append("}")
    return "\n".join(out) + "\n"


def network_diagram(hostvars, hosts, gateway=DEFAULT_GATEWAY, masquerade=True, masquerade_exclude=None,
                    assume_ansible_host=True, max_items=12, title="crossnet.routed network plan",
                    gateway6=DEFAULT_GATEWAY6, masquerade6=True):
    if NETADDR_IMPORT_ERROR is not None:
        raise AnsibleFilterError("crossnet.routed.network_diagram needs the Python library netaddr on "
                                 "the controller: %s" % NETADDR_IMPORT_ERROR)
    if isinstance(hosts, str) or not hasattr(hosts, "__iter__"):
        raise AnsibleFilterError("crossnet.routed.network_diagram: hosts must be a list of inventory "
                                 "hostnames, got %r" % (hosts,))
    if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 0:
        raise AnsibleFilterError("crossnet.routed.network_diagram: max_items must be a non-negative "
                                 "integer, got %r" % (max_items,))
    try:
        variables = host_variables(hostvars, hosts)
    except KeyError as exc:
        raise AnsibleFilterError("crossnet.routed.network_diagram: host %s is not in the inventory"
                                 % exc.args[0]) from None
    try:
        options = {"gateway": gateway, "masquerade": masquerade, "masquerade_exclude": masquerade_exclude,
                   "gateway6": gateway6, "masquerade6": masquerade6}
        plan, assumed = _plan(variables, bool(assume_ansible_host), options)
    except PlanError as exc:
        raise AnsibleFilterError(str(exc)) from None
    blocks = {name: values["crossnet_container_cidr"] for name, values in variables.items()
              if isinstance(values, dict) and values.get("crossnet_container_cidr") is not None}
    return render(plan, blocks, assumed, max_items=max_items, title=str(title))


class FilterModule:
    def filters(self):
        return {"network_diagram": network_diagram}
