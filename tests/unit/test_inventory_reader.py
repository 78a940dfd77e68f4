# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner's input read out of Ansible's own hostvars: plain values as they are, templates
and vaulted values as Ansible renders them, the same as reading hostvars[host][name]."""

from __future__ import annotations

import textwrap

import pytest
from ansible.inventory.manager import InventoryManager
from ansible.module_utils.common.text.converters import to_text
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultLib, VaultSecret, VaultSecretsContext
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager

from ansible_collections.crossnet.routed.plugins.plugin_utils.inventory import host_variables
from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import HOST_VARIABLES

SECRET = [("default", VaultSecret(b"lab secret"))]


@pytest.fixture(autouse=True)
def vault_secrets(monkeypatch):
    """What ansible-playbook sets up once per process, here for each test alone."""
    monkeypatch.setattr(VaultSecretsContext, "_current", VaultSecretsContext(SECRET))


def inventory(tmp_path):
    vaulted = to_text(VaultLib(SECRET).encrypt("eth9"))
    path = tmp_path / "hosts.yml"
    path.write_text(textwrap.dedent("""\
        all:
          vars:
            base: "10.7.0"
          children:
            crossnet_hosts:
              hosts:
                plain:
                  crossnet_uplink: eth0
                  crossnet_node_address: 192.168.9.3
                  crossnet_containers:
                    - {name: c0, addresses: [10.7.1.1], mtu: 1400}
                  unrelated: "{{ undefined_here }}"
                templated:
                  crossnet_node_address: "{{ '192.168.9.' ~ 4 }}"
                  crossnet_containers:
                    - {name: "c{{ 1 }}", addresses: ["{{ base }}.2"]}
                vaulted:
                  crossnet_uplink: !vault |
        """) + textwrap.indent(vaulted, " " * 20) + "\n")
    loader = DataLoader()
    loader.set_vault_secrets(SECRET)
    manager = InventoryManager(loader=loader, sources=[str(path)])
    return HostVars(manager, VariableManager(loader=loader, inventory=manager), loader)


class Watched:
    """Ansible's hostvars, noting each (host, variable) read through templating."""

    def __init__(self, hostvars):
        self.hostvars, self.templated = hostvars, set()

    def raw_get(self, host):
        return self.hostvars.raw_get(host)

    def __contains__(self, host):
        return host in self.hostvars

    def __getitem__(self, host):
        return WatchedHost(self, host)


class WatchedHost:
    def __init__(self, watched, host):
        self.watched, self.host = watched, host

    def __getitem__(self, name):
        self.watched.templated.add((self.host, name))
        return self.watched.hostvars[self.host][name]


def plain(value):
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return str(value) if isinstance(value, str) else value


def test_the_same_as_templating_every_value(tmp_path):
    hostvars = inventory(tmp_path)
    hosts = ["plain", "templated", "vaulted"]
    expected = {host: {name: plain(hostvars[host][name]) for name in HOST_VARIABLES if name in hostvars[host]}
                for host in hosts}
    assert plain(host_variables(hostvars, hosts)) == expected
    assert expected["templated"]["crossnet_node_address"] == "192.168.9.4"
    assert expected["templated"]["crossnet_containers"] == [{"name": "c1", "addresses": ["10.7.0.2"]}]
    assert expected["vaulted"]["crossnet_uplink"] == "eth9"


def test_only_templates_and_vaulted_values_are_templated(tmp_path):
    watched = Watched(inventory(tmp_path))
    variables = host_variables(watched, ["plain", "templated", "vaulted"])
    assert watched.templated == {("templated", "crossnet_node_address"), ("templated", "crossnet_containers"),
                                 ("vaulted", "crossnet_uplink")}
    assert variables["plain"]["crossnet_containers"] == [{"name": "c0", "addresses": ["10.7.1.1"], "mtu": 1400}]


def test_a_host_outside_the_inventory_is_named(tmp_path):
    with pytest.raises(KeyError) as caught:
        host_variables(inventory(tmp_path), ["plain", "nohost"])
    assert caught.value.args == ("nohost",)


def test_any_mapping_of_hosts_to_variables():
    hostvars = {"host1": {"crossnet_uplink": "eth0", "unrelated": 1}}
    assert host_variables(hostvars, ["host1"]) == {"host1": {"crossnet_uplink": "eth0"}}
