# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""crossnet.routed.network_facts on a fake host, under both pyroute2s."""

from __future__ import annotations

import os


def _up(box, *commands):
    for argv in commands:
        box.run(argv, check=True)


def test_uplink_entry_in_setup_shape(sandbox):
    _up(sandbox,
        ["ip", "link", "add", "up-0", "mtu", "1400", "type", "veth", "peer", "name", "up0p"],
        ["ip", "addr", "add", "192.168.9.3/24", "dev", "up-0"],
        ["ip", "addr", "add", "192.168.19.3/24", "dev", "up-0"],
        ["ip", "link", "set", "up-0", "up"])
    result = sandbox.run_module("network_facts", {"uplink": "up-0"}, check=True)
    assert result["failed"] is False and result["changed"] is False, result.get("msg")
    facts = result["ansible_facts"]
    assert {"lo", "up-0", "up0p"} <= set(facts["interfaces"])
    assert facts["default_ipv4"] == {}
    entry = facts["up_0"]
    assert entry["device"] == "up-0" and entry["mtu"] == 1400 and entry["active"] is True
    assert entry["ipv4"] == {"address": "192.168.9.3", "netmask": "255.255.255.0", "network": "192.168.9.0",
                             "prefix": "24", "broadcast": "192.168.9.255", "label": "up-0"}
    assert [e["address"] for e in entry["ipv4_secondaries"]] == ["192.168.19.3"]


def test_uplink_ipv6_addresses_and_default_route(sandbox):
    _up(sandbox,
        ["ip", "link", "add", "up-0", "type", "veth", "peer", "name", "up0p"],
        ["ip", "-6", "addr", "add", "fd00:9::3/64", "dev", "up-0", "nodad"],
        ["ip", "-6", "addr", "add", "fd00:19::3/64", "dev", "up-0", "nodad"],
        ["ip", "link", "set", "up-0", "up"],
        ["ip", "-6", "route", "add", "default", "via", "fd00:9::1", "dev", "up-0"])
    facts = sandbox.run_module("network_facts", {"uplink": "up-0"})["ansible_facts"]
    entry = facts["up_0"]
    globals6 = [e for e in entry["ipv6"] if e["scope"] == "global"]
    assert sorted((e["address"], e["prefix"]) for e in globals6) == [("fd00:19::3", "64"), ("fd00:9::3", "64")]
    assert facts["default_ipv6"]["interface"] == "up-0" and facts["default_ipv6"]["gateway"] == "fd00:9::1"
    assert facts["default_ipv6"]["address"] in ("fd00:9::3", "fd00:19::3")


def test_default_route_picks_the_uplink(sandbox):
    _up(sandbox,
        ["ip", "link", "add", "wan0", "type", "veth", "peer", "name", "wan0p"],
        ["ip", "link", "add", "alt0", "type", "veth", "peer", "name", "alt0p"],
        ["ip", "addr", "add", "10.7.0.2/24", "dev", "wan0"],
        ["ip", "addr", "add", "10.8.0.2/24", "dev", "alt0"],
        ["ip", "link", "set", "wan0", "up"], ["ip", "link", "set", "alt0", "up"],
        ["ip", "route", "add", "default", "via", "10.8.0.1", "dev", "alt0", "metric", "200"],
        ["ip", "route", "add", "default", "via", "10.7.0.1", "dev", "wan0", "metric", "100"])
    facts = sandbox.run_module("network_facts", {})["ansible_facts"]
    assert facts["default_ipv4"]["interface"] == "wan0"
    assert facts["default_ipv4"]["gateway"] == "10.7.0.1"
    assert facts["default_ipv4"]["address"] == "10.7.0.2"
    assert facts["wan0"]["ipv4"]["address"] == "10.7.0.2" and "alt0" not in facts


def test_preflight_with_the_facts_reports_without_failing(sandbox):
    _up(sandbox,
        ["ip", "link", "add", "up-0", "type", "veth", "peer", "name", "up0p"],
        ["ip", "addr", "add", "192.168.9.3/24", "dev", "up-0"],
        ["ip", "link", "set", "up-0", "up"], ["ip", "link", "set", "up0p", "up"])
    wanted = {"host": "host1", "uplink": "up-0", "node_address": "192.168.9.3",
              "peers": [{"host": "host2", "address": "192.168.9.4"}, {"host": "host3", "address": "10.99.0.4"}]}
    result = sandbox.run_module("network_facts", {"uplink": "up-0", "preflight": wanted})
    assert result["failed"] is False, result.get("msg")
    assert result["ansible_facts"]["up_0"]["ipv4"]["address"] == "192.168.9.3"
    checked = dict(wanted, node_address6=None,  # the defaults filled in
                   peers=[dict(peer, overlay=False, address6=None) for peer in wanted["peers"]])
    del checked["host"]
    assert result["preflight"]["checked"] == checked
    errors = result["preflight"]["errors"]
    assert len(errors) == 1 and "host3" in errors[0] and "10.99.0.4" in errors[0], errors

    fine = dict(wanted, peers=wanted["peers"][:1])
    assert sandbox.run_module("network_facts", {"uplink": "up-0", "preflight": fine})["preflight"]["errors"] == []
    assert "preflight" not in sandbox.run_module("network_facts", {"uplink": "up-0"})


def test_says_nothing_is_missing_on_a_complete_host(sandbox):
    assert sandbox.run_module("network_facts", {}, check=True)["missing"] == []


def test_without_pyroute2_it_says_so_and_gathers_nothing(sandbox, tmp_path):
    """A host without pyroute2 (here: a stand-in package that cannot be imported) is reported,
    not failed: the role then installs the packages and gathers the facts again."""
    shim = tmp_path / "shim" / "pyroute2"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('no pyroute2 on this host')\n")
    python = sandbox.interpreter_with("python-no-pyroute2", {"PYTHONPATH": str(shim.parent)})
    result = sandbox.run_module("network_facts", {"uplink": "lo"}, check=True, interpreter=python)
    assert result["failed"] is False, result.get("msg")
    assert result["missing"] == ["pyroute2"]
    assert result["ansible_facts"] == {}


def test_gather_false_only_says_what_is_missing(sandbox):
    """What the role runs for teardown, or after a play gathered its own facts: no facts, no
    preflight, only ``missing``."""
    wanted = {"host": "host1", "uplink": "lo", "node_address": "127.0.0.1", "peers": []}
    result = sandbox.run_module("network_facts", {"gather": False, "preflight": wanted}, check=True)
    assert result["failed"] is False, result.get("msg")
    assert result["missing"] == [] and result["ansible_facts"] == {} and "preflight" not in result


def _interpreter_without(sandbox, tmp_path, *libraries):
    """The sandbox's Python with stand-ins for ``libraries`` first on its path that raise
    ImportError, as on a host where they are not installed."""
    shim = tmp_path / "shim"
    for library in libraries:
        (shim / library).mkdir(parents=True)
        (shim / library / "__init__.py").write_text("raise ImportError('no %s on this host')\n" % library)
    return sandbox.interpreter_with("python-without-" + "-".join(libraries), {"PYTHONPATH": str(shim)})


def test_without_netaddr_and_pyroute2_both_are_reported(sandbox, tmp_path):
    python = _interpreter_without(sandbox, tmp_path, "netaddr", "pyroute2")
    for gather in (True, False):
        result = sandbox.run_module("network_facts", {"gather": gather}, check=True, interpreter=python)
        assert result["failed"] is False, result.get("msg")
        assert result["missing"] == ["netaddr", "pyroute2"] and result["ansible_facts"] == {}


def test_missing_commands_are_reported_with_the_facts(sandbox, tmp_path):
    """iptables and nft are looked for on the PATH and in the sbin directories: an empty
    directory mounted over the ones that hold them (in the sandbox's own mount namespace) makes
    them missing, while the facts are still gathered."""
    empty = tmp_path / "empty"
    empty.mkdir()
    hidden = set()
    for name in ("iptables", "nft"):
        for directory in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
            real = os.path.realpath(directory)
            if real not in hidden and os.path.exists(os.path.join(real, name)):
                sandbox.run(["mount", "--bind", str(empty), real], check=True)
                hidden.add(real)
    assert hidden, "iptables and nft are not installed here at all"
    result = sandbox.run_module("network_facts", {"uplink": "lo"}, check=True)
    assert result["failed"] is False, result.get("msg")
    assert result["missing"] == ["iptables", "nft"]
    assert "lo" in result["ansible_facts"]["interfaces"]
