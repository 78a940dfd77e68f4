# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible_collections.crossnet.routed.plugins.module_utils import sysctl


def test_present_sets_only_what_differs():
    current = {"v1": {"proxy_arp": 1, "proxy_delay": 80}}
    writes, errors, report = sysctl.plan(["v1"], current, "present", rp_filter=False)
    assert writes == [("v1", "proxy_delay", 0)] and not errors
    assert report == [{"name": "v1", "before": {"proxy_arp": 1, "proxy_delay": 80},
                       "after": {"proxy_arp": 1, "proxy_delay": 0}}]


def test_absent_restores_defaults_and_rp_filter():
    current = {"v1": {"proxy_arp": 1, "proxy_delay": 0, "rp_filter": 1}}
    writes, dummy, dummy = sysctl.plan(["v1"], current, "absent", rp_filter=True)
    assert sorted(writes) == [("v1", "proxy_arp", 0), ("v1", "proxy_delay", 80), ("v1", "rp_filter", 0)]


def test_missing_interface():
    current = {"v9": {"proxy_arp": None, "proxy_delay": None}}
    assert "v9 does not exist" in sysctl.plan(["v9"], current, "present", False)[1][0]
    assert sysctl.plan(["v9"], current, "present", False, check_mode=True)[0]
    assert sysctl.plan(["v9"], current, "absent", False) == ([], [], [])


def test_dotted_names_are_paths_not_separators(tmp_path):
    (tmp_path / "net/ipv4/conf/eth0.100").mkdir(parents=True)
    (tmp_path / "net/ipv4/neigh/eth0.100").mkdir(parents=True)
    sysctl.write("proxy_arp", "eth0.100", 1, root=str(tmp_path))
    sysctl.write("proxy_delay", "eth0.100", 0, root=str(tmp_path))
    assert sysctl.observe(["eth0.100"], False, root=str(tmp_path)) == {"eth0.100": {"proxy_arp": 1, "proxy_delay": 0}}
