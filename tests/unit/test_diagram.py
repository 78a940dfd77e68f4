# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The picture of the plan: the network_diagram filter, playbooks/diagram.yml, and the seed lab's
picture under docs/ (docs/seed-lab.dot, docs/seed-lab.svg), which must be what
``scripts/diagram.py`` writes now.  No host is contacted, no root needed."""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
import yaml

from test_plan import ROOT, facts  # also makes the collection importable
from test_plan_overlay import three, vtep_start, CIDR

from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.crossnet.routed.plugins.filter.network_diagram import (  # noqa: E402
    FilterModule,
    label,
    network_diagram,
    quote,
)

SEED_DOT = os.path.join(ROOT, "docs", "seed-lab.dot")
SEED_SVG = os.path.join(ROOT, "docs", "seed-lab.svg")
REGENERATE = "run .venv/bin/python scripts/diagram.py to regenerate docs/seed-lab.dot and docs/seed-lab.svg"
DOT = shutil.which("dot")
SVG_DIGEST = re.compile(r"<!-- crossnet\.routed\.network_diagram dot_sha256=([0-9a-f]{64}) -->")


def _script():
    spec = importlib.util.spec_from_file_location("crossnet_diagram_script", os.path.join(ROOT, "scripts", "diagram.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


diagram_script = _script()


def hostvars_of(inventory):
    """{host: variables} of an inventory of one group crossnet_hosts (group vars, then host vars)."""
    group = inventory["all"]["children"]["crossnet_hosts"]
    return {name: dict(group.get("vars") or {}, **(variables or {})) for name, variables in group["hosts"].items()}


def playbook_diagram(inventory):
    """What playbooks/diagram.yml writes as the DOT, with its defaults."""
    hostvars = hostvars_of(inventory)
    first = hostvars[next(iter(hostvars))]
    return network_diagram(hostvars, list(hostvars), gateway=first.get("crossnet_gateway", "169.254.1.1"),
                           masquerade=first.get("crossnet_masquerade", True),
                           masquerade_exclude=first.get("crossnet_masquerade_exclude", []))


def unquote(text):
    """The string a DOT double-quoted string stands for (the escapes \\" and \\\\ only)."""
    assert text[0] == '"' and text[-1] == '"'
    out, index = [], 1
    while index < len(text) - 1:
        char = text[index]
        assert char != '"', "unescaped quote in %r" % text
        assert char not in "\r\n", "raw line break in %r" % text
        if char == "\\":
            out.append(text[index + 1] if text[index + 1] in '"\\' else "\\" + text[index + 1])
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def dot_strings(dot):
    """Every double-quoted string of a DOT text, in order."""
    return re.findall(r'"(?:[^"\\]|\\.)*"', dot)


def svg_texts(svg):
    return [element.text for element in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")]


def boxes(dot):
    """{box id: its DOT line} of the route boxes between hosts."""
    return {match.group(1): match.group(0) for match in re.finditer(r"^  (r_\w+) \[.*$", dot, re.M)}


# ---------------------------------------------------------------- the seed lab's picture


def test_seed_dot_is_current():
    expected = playbook_diagram(diagram_script.inventory(diagram_script.SEED))
    with open(SEED_DOT, encoding="utf-8") as handle:
        assert handle.read() == expected, "docs/seed-lab.dot is stale: " + REGENERATE


def test_seed_svg_was_drawn_from_that_dot():
    # Graphviz's layout and SVG differ between its versions, so the SVG is not compared with a
    # fresh rendering: playbooks/diagram.yml passes the sha256 of the DOT file to dot as the graph
    # attribute "comment", which every version writes into the SVG as an XML comment.
    with open(SEED_DOT, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    with open(SEED_SVG, encoding="utf-8") as handle:
        svg = handle.read()
    found = SVG_DIGEST.findall(svg)
    assert found == [digest], "docs/seed-lab.svg was not drawn from docs/seed-lab.dot: " + REGENERATE
    texts = svg_texts(svg)
    assert "host1" in texts and "host2" in texts
    assert "12.11.12.3/32" in " ".join(texts)


def run_playbook(tmp_path, inventory, *extra):
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    proc = diagram_script.run(str(path), str(tmp_path / "out" / "net"), extra)
    return proc.returncode, proc.stdout + proc.stderr


def test_playbook_writes_the_seed_diagram(tmp_path):
    (tmp_path / "out").mkdir()
    inventory = diagram_script.inventory(diagram_script.SEED)
    rc, output = run_playbook(tmp_path, inventory)
    assert rc == 0, output
    dot = (tmp_path / "out" / "net.dot").read_text()
    with open(SEED_DOT, encoding="utf-8") as handle:
        assert dot == handle.read()
    svg_path = tmp_path / "out" / "net.svg"
    if DOT is None:
        assert not svg_path.exists()
        assert "Graphviz is not installed" in output
    else:
        svg = svg_path.read_text()
        assert SVG_DIGEST.findall(svg) == [hashlib.sha256(dot.encode("utf-8")).hexdigest()]
        assert "host1" in svg_texts(svg)
    # A second run changes nothing; check mode writes nothing.
    rc, output = run_playbook(tmp_path, inventory)
    assert rc == 0 and re.search(r"localhost\s*:\s*ok=\d+\s+changed=0 ", output), output
    shutil.rmtree(tmp_path / "out")
    (tmp_path / "out").mkdir()
    rc, output = run_playbook(tmp_path, inventory, "--check")
    assert rc == 0, output
    assert not list((tmp_path / "out").iterdir())


def test_playbook_takes_hostile_names_as_text(tmp_path):
    (tmp_path / "out").mkdir()
    name = 'evil"{{ 7 * 7 }}\\N'
    inventory = {"all": {"children": {"crossnet_hosts": {
        "vars": {"crossnet_uplink": "eth0", "crossnet_masquerade_exclude": ["10.99.0.0/16"]},
        "hosts": {
            name: {"ansible_host": "192.168.9.3", "crossnet_containers": [{"name": "c1", "addresses": ["10.1.0.1"]}]},
            "plain": {"ansible_host": "192.168.9.4", "crossnet_containers": [{"name": "c1", "addresses": ["10.1.0.2"]}]},
        }}}}}
    rc, output = run_playbook(tmp_path, inventory)
    assert rc == 0, output
    dot = (tmp_path / "out" / "net.dot").read_text()
    assert dot == playbook_diagram(inventory)
    assert quote(name) in dot and "49" not in dot
    assert "10.99.0.0/16" in dot


def test_playbook_without_hosts_fails(tmp_path):
    (tmp_path / "out").mkdir()
    rc, output = run_playbook(tmp_path, {"all": {"hosts": {"other": {}}}})
    assert rc != 0
    assert "no host in the group crossnet_hosts" in output


# ---------------------------------------------------------------- escaping


@pytest.mark.parametrize("text", ['a"b', "a\\b", "back\\", "\\N \\G \\l \\n", "x\ny\rz\x00\x7f", "{{ x }}",
                                  "<b>html</b>", "é ✓", '"; node [label="pwned"]; "'])
def test_quote_round_trips(text):
    quoted = quote(text)
    shown = "".join("\\x%02x" % ord(char) if char < " " or char == "\x7f" else char for char in text)
    assert unquote(quoted) == shown
    assert "\n" not in quoted and "\r" not in quoted
    # No Graphviz escape sequence (\N, \G, \l, \n ...) comes from the input: each backslash is doubled.
    assert re.sub(r"\\\\", "", quoted[1:-1]).count("\\") == quoted[1:-1].count('\\"')


def test_label_lines():
    assert label(["a", "b"]) == '"a\\nb"'
    assert label(["a", 'b"\\'], left=True) == '"a\\lb\\"\\\\\\l"'


HOSTILE = 'x" ]; evil [label="pwned"]; "\\l\n'


def hostile_inventory():
    return {
        HOSTILE: {"ansible_facts": facts("192.168.1.2"),
                  "crossnet_containers": [{"name": "c1", "addresses": ["10.1.0.1"]}]},
        "b": {"ansible_facts": facts("192.168.1.3"),
              "crossnet_containers": [{"name": "c1", "addresses": ["10.1.0.2"]}]},
    }


def test_hostile_host_names_stay_labels():
    dot = network_diagram(hostile_inventory(), [HOSTILE, "b"])
    shown = HOSTILE.replace("\n", "\\x0a")
    strings = [unquote(text) for text in dot_strings(dot)]  # every string well formed
    assert shown in strings  # the cluster's label
    assert any(shown + " \u2192 b\\l" in text for text in strings)
    # Outside the strings there are only the diagram's own ids: nothing of the name got out.
    assert "evil" not in re.sub(r'"(?:[^"\\]|\\.)*"', "", dot)


@pytest.mark.skipif(DOT is None, reason="Graphviz's dot is not installed")
def test_graphviz_shows_hostile_names_verbatim():
    dot = network_diagram(hostile_inventory(), [HOSTILE, "b"])
    proc = subprocess.run([DOT, "-Tsvg"], input=dot, capture_output=True, text=True, check=True, timeout=60)
    shown = HOSTILE.replace("\n", "\\x0a")
    texts = svg_texts(proc.stdout)
    assert shown in texts  # the cluster's label, one line, as it is
    assert [text for text in texts if "pwned" in text and shown not in text] == []
    # Two clusters, the hosts', and no node of the name's making.
    assert len(re.findall(r'class="cluster"', proc.stdout)) == 2
    assert "<title>evil</title>" not in proc.stdout
    # h0, h1, a container each, the route box, two masquerade boxes and the outside.
    assert len(re.findall(r'class="node"', proc.stdout)) == 8


# ---------------------------------------------------------------- what it shows


def test_overlay_and_direct_routes_are_drawn_apart():
    dot = network_diagram(three("cross_subnet"), ["a", "b", "c"])
    a, b, c = (vtep_start(name, CIDR) for name in "abc")
    found = boxes(dot)
    assert set(found) == {"r_h0_h1_direct", "r_h0_h2_overlay", "r_h1_h2_overlay"}
    direct = found["r_h0_h1_direct"]
    assert "style=solid" in direct
    assert unquote(re.search(r'label=("(?:[^"\\]|\\.)*")', direct).group(1)).split("\\l") == [
        "a \u2192 b", "  10.1.0.2/32", "  via 192.168.1.3 dev eth0",
        "b \u2192 a", "  10.1.0.1/32", "  via 192.168.1.2 dev eth0", ""]
    overlay = found["r_h0_h2_overlay"]
    assert "style=dashed" in overlay
    assert unquote(re.search(r'label=("(?:[^"\\]|\\.)*")', overlay).group(1)).split("\\l") == [
        "a \u2192 c", "  10.2.0.0/24", "  via %s dev crossnet-vxlan onlink" % c,
        "c \u2192 a", "  10.1.0.1/32", "  via %s dev crossnet-vxlan onlink" % a, ""]
    assert "via %s dev crossnet-vxlan onlink" % b in found["r_h1_h2_overlay"]
    # Arrows into both hosts of each pair, styled as their box.
    assert "  h0 -> r_h0_h2_overlay [style=dashed" in dot and "  h2 -> r_h0_h2_overlay [style=dashed" in dot
    assert dot.count("dir=back") == 6
    # The host boxes: node address, uplink, block, VTEP.
    assert "block 10.2.0.0/24" in dot
    assert "VTEP %s on crossnet-vxlan (VNI 4096, port 4789, MTU 1450)" % c in dot
    assert "(ansible_host)" not in dot  # every address from the facts


def test_every_peer_through_the_overlay():
    dot = network_diagram(three("vxlan"), ["a", "b", "c"])
    assert set(boxes(dot)) == {"r_h0_h1_overlay", "r_h0_h2_overlay", "r_h1_h2_overlay"}


def test_masquerade_node():
    hosts = three(None)
    dot = network_diagram(hosts, ["a", "b", "c"], masquerade_exclude=["172.16.0.0/12"])
    outside = re.search(r"^  outside \[.*$", dot, re.M).group(0)
    assert unquote(re.search(r'label=("(?:[^"\\]|\\.)*")', outside).group(1)).split("\\l") == [
        "outside (masqueraded)", "not masqueraded toward:", "  10.1.0.1/32", "  10.1.0.2/32", "  10.2.0.0/24",
        "  172.16.0.0/12", ""]
    assert "  m_h2 [shape=box" in dot and '"c masquerades\\l10.2.0.2/32\\l"' in dot
    assert "  h2 -> m_h2 [" in dot and "  m_h2 -> outside [" in dot
    off = network_diagram(hosts, ["a", "b", "c"], masquerade=False)
    assert "nothing is masqueraded" in off and "m_h0" not in off


def test_host_without_containers_neither_routes_nor_masquerades():
    hosts = {"a": {"ansible_facts": facts("192.168.1.2"), "crossnet_containers": [{"name": "c1", "addresses": ["10.1.0.1"]}]},
             "b": {"ansible_facts": facts("192.168.1.3")}}
    dot = network_diagram(hosts, ["a", "b"])
    assert set(boxes(dot)) == {"r_h0_h1_direct"}
    assert "b \u2192 a" in dot and "a \u2192 b" not in dot
    assert "  h0 -> r_h0_h1_direct [style=solid, color=\"#1f4e79\", fontcolor=\"#1f4e79\", dir=back];" in dot
    assert "  h1 -> r_h0_h1_direct [style=solid, color=\"#1f4e79\", fontcolor=\"#1f4e79\", dir=none];" in dot
    assert "m_h1" not in dot and "m_h0" in dot


# ---------------------------------------------------------------- hosts without facts


def no_facts():
    return {
        "host1": {"ansible_host": "192.168.9.3", "crossnet_uplink": "eth0",
                  "crossnet_containers": [{"name": "container0", "addresses": ["11.12.11.121"]}]},
        "host2": {"ansible_host": "192.168.9.4", "crossnet_uplink": "eth0",
                  "crossnet_containers": [{"name": "container0", "addresses": ["12.11.12.3"]}]},
    }


def test_without_facts_ansible_host_is_taken_and_marked():
    dot = network_diagram(no_facts(), ["host1", "host2"])
    assert "node address 192.168.9.3 (ansible_host)" in dot
    assert "via 192.168.9.4 dev eth0" in dot and "kept" not in boxes(dot).get("r_h0_h1_direct", "kept")
    # An explicit crossnet_node_address is not marked.
    hosts = no_facts()
    hosts["host1"]["crossnet_node_address"] = "192.168.9.3"
    dot = network_diagram(hosts, ["host1", "host2"])
    assert "node address 192.168.9.3\\l" in dot and "node address 192.168.9.4 (ansible_host)" in dot


def test_without_the_assumption_peers_are_unresolved():
    dot = network_diagram(no_facts(), ["host1", "host2"], assume_ansible_host=False)
    assert set(boxes(dot)) == {"r_h0_h1_kept"}
    assert "style=dotted" in boxes(dot)["r_h0_h1_kept"]
    assert "routes kept as they are" in dot and "(node address unknown)" in dot
    assert "unresolved: crossnet_node_address is not set and the host has no facts" in dot
    assert 'color="#c62828"' in dot


def test_a_colliding_ansible_host_falls_back_to_the_plan_without_it():
    hosts = no_facts()
    hosts["host2"]["ansible_host"] = "11.12.11.121"  # host1's container
    dot = network_diagram(hosts, ["host1", "host2"])
    assert "(ansible_host)" not in dot
    assert "r_h0_h1_kept" in boxes(dot)


def test_the_plan_s_errors_are_the_filter_s():
    hosts = no_facts()
    hosts["host2"]["crossnet_containers"][0]["addresses"] = ["11.12.11.121"]
    with pytest.raises(AnsibleFilterError, match="not valid"):
        network_diagram(hosts, ["host1", "host2"])
    with pytest.raises(AnsibleFilterError, match="host3 is not in the inventory"):
        network_diagram(hosts, ["host1", "host3"])
    with pytest.raises(AnsibleFilterError, match="max_items"):
        network_diagram(no_facts(), ["host1"], max_items=-1)


# ---------------------------------------------------------------- determinism and size


def test_deterministic_whatever_the_order():
    hosts = three("cross_subnet")
    hosts["a"]["crossnet_containers"].append({"name": "a0", "addresses": ["10.1.0.9"]})
    first = network_diagram(hosts, ["a", "b", "c"])
    assert network_diagram(copy.deepcopy(hosts), ["a", "b", "c"]) == first
    shuffled = {name: copy.deepcopy(hosts[name]) for name in ("c", "a", "b")}
    shuffled["a"]["crossnet_containers"].reverse()
    assert network_diagram(shuffled, ["c", "a", "b"]) == first
    # Containers sorted by name within their host.
    assert first.index('"a0\\n') < first.index('"c1\\n10.1.0.1')


def test_max_items():
    hosts = {"a": {"ansible_facts": facts("192.168.1.2"),
                   "crossnet_containers": [{"name": "c%02d" % i, "addresses": ["10.1.%d.1" % i]} for i in range(5)]},
             "b": {"ansible_facts": facts("192.168.1.3")}}
    dot = network_diagram(hosts, ["a", "b"], max_items=3)
    assert "h0_c2 " in dot and "h0_c3 " not in dot
    assert "... and 2 more containers" in dot
    assert "... and 2 more destinations" in dot
    assert "... and 2 more sources" in dot
    everything = network_diagram(hosts, ["a", "b"], max_items=0)
    assert "h0_c4 " in everything and "more" not in everything


def test_registered_as_a_filter():
    assert FilterModule().filters() == {"network_diagram": network_diagram}
