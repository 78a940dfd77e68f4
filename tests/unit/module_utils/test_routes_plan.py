# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible_collections.crossnet.routed.plugins.module_utils import routes as rt


def norm(*routes):
    out, errors = rt.normalize_routes(list(routes))
    assert not errors
    return out


def have(dest, dev="v1", gateway=None, scope="link", proto=rt.PROTOCOL, netns=None, metric=0):
    return {"dest": dest, "gateway": gateway, "dev": dev, "scope": scope, "onlink": False, "metric": metric,
            "protocol": proto, "netns": netns}


def view(*routes):
    return {"routes": {(r["dest"], r["metric"]): r for r in routes}, "links": {"lo": 1, "v1": 2, "v2": 3, "eth0": 4}}


def test_normalize():
    out = norm({"dest": "10.0.0.1", "dev": "v1"}, {"dest": "default", "gateway": "169.254.1.1", "netns": "c1"})
    assert out[0]["dest"] == "10.0.0.1/32" and out[0]["scope"] == "link"
    assert out[1]["dest"] == "0.0.0.0/0" and out[1]["scope"] == "universe"
    dummy, errors = rt.normalize_routes([{"dest": "10.0.0.1/24", "dev": "v1"}])
    assert "host bits" in errors[0]
    dummy, errors = rt.normalize_routes([{"dest": "10.0.0.0/24"}])
    assert "gateway or a dev" in errors[0]


def test_add_keep_replace():
    routes = norm({"dest": "10.0.0.1", "dev": "v1"}, {"dest": "10.0.0.2", "dev": "v2"}, {"dest": "10.0.0.3", "dev": "v1"})
    current = view(have("10.0.0.1/32"), have("10.0.0.2/32", dev="v1"))
    result = rt.plan(routes, "present", {None: current})
    assert [r["dest"] for r in result.add] == ["10.0.0.3/32"]
    assert [r["dest"] for r in result.replace] == ["10.0.0.2/32"]
    assert not result.delete


def test_converged_is_unchanged_with_equal_diff():
    routes = norm({"dest": "10.0.0.1", "dev": "v1"})
    result = rt.plan(routes, "present", {None: view(have("10.0.0.1/32"))})
    assert not result.changed and result.before == result.after


def test_foreign_route_fails_unless_adopted():
    routes = norm({"dest": "10.0.0.1", "dev": "v1"})
    current = {None: view(have("10.0.0.1/32", proto=3))}
    assert "protocol 3" in rt.plan(routes, "present", current).errors[0]
    assert [r["dest"] for r in rt.plan(routes, "present", current, adopt=True).replace] == ["10.0.0.1/32"]


def test_purge_only_ours_in_listed_namespaces():
    routes = norm({"dest": "10.0.0.1", "dev": "v1"})
    current = {None: view(have("10.0.0.1/32"), have("10.0.0.9/32"), have("192.168.0.0/24", proto=2))}
    result = rt.plan(routes, "present", current, purge=True)
    assert [r["dest"] for r in result.delete] == ["10.0.0.9/32"]


def test_missing_namespace_and_device():
    routes = norm({"dest": "default", "gateway": "169.254.1.1", "dev": "eth0", "netns": "c9"})
    assert "c9 does not exist" in rt.plan(routes, "present", {None: view(), "c9": None}).errors[0]
    assert rt.plan(routes, "present", {None: view(), "c9": None}, check_mode=True).add
    assert not rt.plan(routes, "absent", {None: view(), "c9": None}).changed
    routes = norm({"dest": "10.0.0.1", "dev": "nope"})
    assert "device nope" in rt.plan(routes, "present", {None: view()}).errors[0]


def test_normalize_ipv6_has_no_scope_and_metric_1024():
    out = norm({"dest": "fd10:0:0::1", "dev": "v1"}, {"dest": "::/0", "gateway": "fe80::1", "netns": "c1"},
               {"dest": "fd10:2::/64", "gateway": "fd00::4", "dev": "eth0", "metric": 7, "scope": "link"})
    assert [(r["dest"], r["scope"], r["metric"]) for r in out] == [
        ("fd10::1/128", "universe", 1024), ("::/0", "universe", 1024), ("fd10:2::/64", "universe", 7)]
    dummy, errors = rt.normalize_routes([{"dest": "fd10::/64", "gateway": "10.0.0.1", "dev": "v1"},
                                         {"dest": "10.0.0.0/24", "gateway": "fe80::1", "dev": "v1"},
                                         {"dest": "fd10::1/64", "dev": "v1"}])
    assert "family" in errors[0] and "family" in errors[1] and "fd10::/64" in errors[2]


def test_ipv6_routes_compare_with_what_the_kernel_reads_back():
    routes = norm({"dest": "fd10::1", "dev": "v1"}, {"dest": "fd10::2", "dev": "v2"})
    ipv6 = {"scope": "universe", "metric": 1024}
    current = view(have("fd10::1/128", **ipv6), have("fd10::2/128", dev="v1", **ipv6), have("fd10::3/128", **ipv6),
                   have("10.0.0.3/32"))
    result = rt.plan(routes, "present", {None: current}, purge=True)
    assert not result.add and [r["dest"] for r in result.replace] == ["fd10::2/128"]
    assert sorted(r["dest"] for r in result.delete) == ["10.0.0.3/32", "fd10::3/128"]
