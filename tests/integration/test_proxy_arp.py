# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""crossnet.routed.proxy_arp against the kernel, inside a sandbox."""

from __future__ import annotations

IFACES = ["cnt1pa", "cnt1.100"]  # a dotted name, as VLAN interfaces have


def values(box, ifname):
    def read(path):
        return int(box.run(["cat", "/proc/sys/net/ipv4/" + path % ifname]).stdout)
    return {"proxy_arp": read("conf/%s/proxy_arp"), "proxy_delay": read("neigh/%s/proxy_delay"),
            "rp_filter": read("conf/%s/rp_filter")}


def test_present_idempotent_check_diff_absent(sandbox):
    sandbox.run(["ip", "link", "add", "cnt1pa", "type", "veth", "peer", "name", "cnt1.100"], check=True)
    sandbox.run(["sysctl", "-w", "net.ipv4.conf.cnt1pa.rp_filter=0"], check=True)
    before = values(sandbox, "cnt1pa")
    assert before["proxy_arp"] == 0 and before["proxy_delay"] == 80
    args = {"interfaces": IFACES, "rp_filter": True}
    predicted = sandbox.run_module("proxy_arp", args, check=True, diff=True)
    assert predicted["changed"] and values(sandbox, "cnt1pa") == before
    done = sandbox.run_module("proxy_arp", args, diff=True)
    assert done["changed"] and not done["failed"], done.get("msg")
    for ifname in IFACES:
        assert values(sandbox, ifname) == {"proxy_arp": 1, "proxy_delay": 0, "rp_filter": 1}
    assert done["diff"]["after"]["cnt1.100"] == {"proxy_arp": 1, "proxy_delay": 0, "rp_filter": 1}
    assert done["diff"]["before"]["cnt1pa"] == before
    assert sandbox.run_module("proxy_arp", args)["changed"] is False

    sandbox.run(["sysctl", "-w", "net.ipv4.conf.cnt1pa.proxy_arp=0"], check=True)  # drift
    fixed = sandbox.run_module("proxy_arp", args)
    assert fixed["changed"] and values(sandbox, "cnt1pa")["proxy_arp"] == 1

    absent = sandbox.run_module("proxy_arp", dict(args, state="absent"))
    assert absent["changed"]
    assert values(sandbox, "cnt1.100") == {"proxy_arp": 0, "proxy_delay": 80, "rp_filter": 0}
    assert sandbox.run_module("proxy_arp", dict(args, state="absent"))["changed"] is False


def test_missing_and_bad_interfaces(sandbox):
    missing = sandbox.run_module("proxy_arp", {"interfaces": ["cnt1none"]})
    assert missing["failed"] and "cnt1none" in missing["msg"]
    assert sandbox.run_module("proxy_arp", {"interfaces": ["cnt1none"]}, check=True)["changed"] is True
    assert sandbox.run_module("proxy_arp", {"interfaces": ["cnt1none"], "state": "absent"})["changed"] is False
    bad = sandbox.run_module("proxy_arp", {"interfaces": ["../all"]})
    assert bad["failed"] and "../all" in bad["msg"]
