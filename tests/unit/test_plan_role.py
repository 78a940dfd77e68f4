# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's plan step through ansible-playbook: the filter as Ansible calls it (the role keeps
the summary), and a bad inventory stopping every host.  Only the plan tasks run (set_fact/assert
on the controller): nothing is changed, no root needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from test_plan import ROOT, network_plan  # also makes the collection importable

from ansible_collections.crossnet.routed.plugins.plugin_utils import plan_store  # noqa: E402
from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import host_network_args, summary  # noqa: E402

ANSIBLE_PLAYBOOK = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")


def play(out):
    return [{
        "name": "plan only",
        "hosts": "all",
        "gather_facts": False,
        "tasks": [
            {"name": "plan", "ansible.builtin.include_role": {
                "name": "crossnet.routed.container_network", "tasks_from": "plan"}},
            {"name": "after the plan", "check_mode": False, "ansible.builtin.copy": {
                "content": "{{ container_network_plan.summary[inventory_hostname] | to_json }}",
                "dest": out + "/{{ inventory_hostname }}.json", "mode": "0600"}},
            # The stored parts go when ansible-playbook exits: keep a copy for the test.
            {"name": "keep the stored parts", "check_mode": False, "run_once": True,
             "ansible.builtin.copy": {"src": "{{ container_network_plan.store }}/",
                                      "dest": out + "/../crossnet-plan-copy/", "mode": "0600"}},
        ],
    }]


def inventory(host3_containers=None, outsider=False):
    hosts = {
        "host1": {"crossnet_node_address": "192.168.9.3",
                  "crossnet_containers": [{"name": "container0", "addresses": ["11.12.11.121"]}]},
        "host2": {"crossnet_node_address": "192.168.9.4",
                  "crossnet_containers": [{"name": "container0", "addresses": ["12.11.12.3"]}]},
        "host3": {"crossnet_node_address": "192.168.9.5",
                  "crossnet_containers": host3_containers or []},
    }
    result = {"all": {"vars": {"ansible_connection": "local", "crossnet_uplink": "eth0",
                               "crossnet_gateway": "169.254.1.1", "crossnet_masquerade": True,
                               "crossnet_masquerade_exclude": []},
                      "children": {"crossnet_hosts": {"hosts": hosts}}}}
    if outsider:
        result["all"]["hosts"] = {"outsider": {}}
    return result


def run_play(tmp_path, inv, check=False, limit=None):
    """Run the plan step; return (rc, stdout, {host: its plan} for the hosts that got past it)."""
    out = tmp_path / "reached"
    out.mkdir()
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inv))
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play(str(out))))
    collections = os.path.join(ROOT, "tests", "output", "collections")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    argv = [ANSIBLE_PLAYBOOK, "-i", str(tmp_path / "inventory.yml"), str(tmp_path / "play.yml")]
    if check:
        argv.append("--check")
    if limit:
        argv += ["--limit", limit]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
    reached = {path.stem: json.loads(path.read_text()) for path in out.iterdir()}
    return proc.returncode, proc.stdout + proc.stderr, reached


def stored(tmp_path):
    """{host: stored part} of what the plan step wrote for host_network's action plugin."""
    store = tmp_path / "crossnet-plan-copy"
    if not store.exists():
        return {}
    hosts = [bytes.fromhex(path.stem).decode() for path in store.iterdir()
             if path.name not in (plan_store.ROUTED_NETWORKS, plan_store.VTEPS)]
    return {host: {key: value for key, value in plan_store.read(str(store), host).items()
                   if key in ("args", "unresolved")} for host in hosts}


@pytest.mark.parametrize("check", [False, True])
def test_every_host_gets_its_part_of_the_plan(tmp_path, check):
    rc, output, reached = run_play(tmp_path, inventory(), check=check)
    assert rc == 0, output
    expected = network_plan({
        name: dict(variables, crossnet_uplink="eth0")
        for name, variables in inventory()["all"]["children"]["crossnet_hosts"]["hosts"].items()})
    assert reached == summary(expected)
    assert set(reached["host1"]) == {"preflight", "routes_keep", "unresolved_peers", "unresolved"}
    # Planned once: every host's part written for host_network, exactly its part of the plan.
    assert stored(tmp_path) == {host: {"args": host_network_args(part), "unresolved": None}
                                for host, part in expected.items()}


def test_the_overlay_variables_are_read_from_group_vars(tmp_path):
    inv = inventory()
    inv["all"]["children"]["crossnet_hosts"]["vars"] = {"crossnet_encapsulation": "vxlan",
                                                        "crossnet_vtep_cidr": "10.255.0.0/24"}
    inv["all"]["children"]["crossnet_hosts"]["hosts"]["host3"]["crossnet_vxlan_port"] = 4789
    rc, output, reached = run_play(tmp_path, inv)
    assert rc == 0, output
    expected = network_plan({
        name: dict(variables, crossnet_uplink="eth0", crossnet_encapsulation="vxlan", crossnet_vtep_cidr="10.255.0.0/24")
        for name, variables in inv["all"]["children"]["crossnet_hosts"]["hosts"].items()})
    assert reached == summary(expected)
    assert all(peer["overlay"] for peer in reached["host1"]["preflight"]["peers"])
    parts = stored(tmp_path)
    assert parts == {host: {"args": host_network_args(part), "unresolved": None} for host, part in expected.items()}
    assert [peer["host"] for peer in parts["host1"]["args"]["vxlan_tunnels"][0]["peers"]] == ["host2", "host3"]


def test_with_limit_only_the_limited_hosts_parts_are_stored(tmp_path):
    rc, output, reached = run_play(tmp_path, inventory(), limit="host2")
    assert rc == 0, output
    assert sorted(reached) == ["host2"]
    parts = stored(tmp_path)
    assert sorted(parts) == ["host2"]
    # host2 still routes to the hosts it was only planned around.
    assert [route["gateway"] for route in parts["host2"]["args"]["routes"] if "gateway" in route] == [
        "192.168.9.3"]


def test_a_bad_host_stops_every_host_before_the_next_task(tmp_path):
    bad = [{"name": "c;x", "addresses": ["12.11.12.3"]}, {"name": "ok", "addresses": ["1.2.3"]}]
    rc, output, reached = run_play(tmp_path, inventory(bad))
    assert rc != 0
    assert reached == {}
    assert "not valid (2 problems)" in output
    assert "host host3: crossnet_containers[0]: container name 'c;x'" in output
    assert "host host3: container 'ok': address '1.2.3' is not a valid IPv4 address" in output


def test_a_host_outside_the_group_is_refused(tmp_path):
    rc, output, reached = run_play(tmp_path, inventory(outsider=True))
    assert rc != 0
    assert "outsider is not in the group crossnet_hosts" in output
    assert reached == {}  # any_errors_fatal: the others stop too


def without_node_address(ansible_host):
    inv = inventory([{"name": "c3", "addresses": ["13.0.0.1"]}])
    host3 = inv["all"]["children"]["crossnet_hosts"]["hosts"]["host3"]
    del host3["crossnet_node_address"]
    host3["ansible_host"] = ansible_host
    return inv


def test_a_host_out_of_the_play_without_facts_is_planned_around(tmp_path):
    """host3 is not in this play (as if unreachable) and nothing gives its node address: the
    others keep their routes toward its containers and say so."""
    rc, output, reached = run_play(tmp_path, without_node_address("host3.example.net"), limit="host1,host2")
    assert rc == 0, output
    assert sorted(reached) == ["host1", "host2"]
    for plan in reached.values():
        assert plan["routes_keep"] == ["13.0.0.1/32"]
        assert [peer["host"] for peer in plan["unresolved_peers"]] == ["host3"]
    assert "leaves its routes toward these hosts' containers as they are: host3" in output


def test_a_host_in_the_play_without_facts_or_node_address_stops_every_host(tmp_path):
    rc, output, reached = run_play(tmp_path, without_node_address("192.168.9.5"))
    assert rc != 0
    assert reached == {}
    assert "host3: crossnet_node_address is not set and the host has no facts" in output
