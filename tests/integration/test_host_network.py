# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""crossnet.routed.host_network against the kernel, inside a sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

LOCK = "/run/lock/crossnet.host_network.lock"  # the default, in the sandbox's private /run/lock
PLAN = {
    "namespaces": ["chn-a", "chn-b"],
    "veth_pairs": [
        {"netns": "chn-a", "host_ifname": "chnva", "addresses": ["10.7.0.1/32"], "gateway": "169.254.1.1",
         "mtu": 1500},
        {"netns": "chn-b", "host_ifname": "chnvb", "addresses": ["10.7.0.2/32"], "gateway": "169.254.1.1",
         "mtu": 1500},
    ],
    "routes": [{"dest": "10.7.0.1/32", "dev": "chnva", "scope": "link"},
               {"dest": "10.7.0.2/32", "dev": "chnvb", "scope": "link"}],
    "proxy_arp_interfaces": ["chnva", "chnvb"],
    "container_networks": ["10.7.0.0/30"],
    "masquerade_sources": ["10.7.0.0/30"],
    "masquerade_exclude": ["10.7.0.0/30"],
}
ALL_STEPS = ["forwarding", "netns", "veth_pair", "host_route", "proxy_arp", "masquerade"]


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.1)


def census(box):
    """What the collection can have made in the sandbox, as plain data."""
    netns = sorted(line.split()[0] for line in box.run(["ip", "netns", "list"]).stdout.splitlines())
    veths = sorted(link["ifname"] for link in json.loads(box.run(["ip", "-j", "link", "show", "type", "veth"]).stdout))
    routes = sorted(r["dst"] for r in json.loads(box.run(["ip", "-j", "-4", "route", "show", "proto", "157"]).stdout))
    container = {}
    for name in netns:
        inside = json.loads(box.netns_run(name, ["ip", "-j", "-4", "route", "show", "proto", "157"]).stdout)
        container[name] = sorted(r["dst"] for r in inside)
    proxy = {}
    for veth in veths:
        proxy[veth] = box.run(["cat", "/proc/sys/net/ipv4/conf/%s/proxy_arp" % veth]).stdout.strip()
    nat = box.run(["iptables-save", "-t", "nat"]).stdout
    return {"netns": netns, "veths": veths, "routes": routes, "container_routes": container, "proxy_arp": proxy,
            "masquerade": "CROSSNET-POSTROUTING" in nat,
            "ip_forward": box.run(["cat", "/proc/sys/net/ipv4/ip_forward"]).stdout.strip(),
            "state_files": sorted(box.run(["ls", "/var/lib/crossnet"]).stdout.split())}


def test_converge_rerun_and_teardown(sandbox):
    pristine = census(sandbox)
    predicted = sandbox.run_module("host_network", PLAN, check=True, diff=True)
    assert not predicted["failed"], predicted.get("msg")
    assert predicted["changed"] and predicted["changed_steps"] == ALL_STEPS, predicted["changed_steps"]
    assert census(sandbox) == pristine, "check mode changed the host"

    done = sandbox.run_module("host_network", PLAN, diff=True)
    assert not done["failed"], done.get("msg")
    assert done["changed_steps"] == ALL_STEPS
    headers = [d["before_header"] for d in done["diff"]]
    assert headers[:3] == ["forwarding", "netns", "veth_pair"] and len(headers) == len(ALL_STEPS), headers
    now = census(sandbox)
    assert sorted(now["netns"]) == ["chn-a", "chn-b"]
    assert now["veths"] == ["chnva", "chnvb"]
    assert now["routes"] == ["10.7.0.1", "10.7.0.2"]
    assert now["container_routes"] == {"chn-a": ["169.254.1.1", "default"], "chn-b": ["169.254.1.1", "default"]}
    assert now["proxy_arp"] == {"chnva": "1", "chnvb": "1"}
    assert now["masquerade"] and now["ip_forward"] == "1"

    again = sandbox.run_module("host_network", PLAN)
    assert not again["failed"] and not again["changed"], again["changed_steps"]
    # the result gives what changed in full and the whole desired state only by its length
    assert again["steps"]["netns"]["total"] == 2 and "namespaces" not in again["steps"]["netns"]
    assert again["steps"]["veth_pair"]["total"] == 2 and "pairs" not in again["steps"]["veth_pair"]
    assert again["steps"]["host_route"]["total"] == len(PLAN["routes"])
    assert again["steps"]["proxy_arp"]["total"] == 2 and again["steps"]["netns"]["created"] == []
    assert again["invocation"]["module_args"]["veth_pairs"] == "2 items"

    # one container fewer: every step purges what is no longer listed
    smaller = dict(PLAN, namespaces=["chn-a"], veth_pairs=PLAN["veth_pairs"][:1], routes=PLAN["routes"][:1],
                   proxy_arp_interfaces=["chnva"])
    shrunk = sandbox.run_module("host_network", smaller)
    assert not shrunk["failed"], shrunk.get("msg")
    # removing the namespace takes its pair down, and the kernel the route on the host end
    assert "netns" in shrunk["changed_steps"], shrunk["changed_steps"]
    wait_until(lambda: census(sandbox)["veths"] == ["chnva"])  # the kernel removes the pair later
    now = census(sandbox)
    assert sorted(now["netns"]) == ["chn-a"] and now["veths"] == ["chnva"] and now["routes"] == ["10.7.0.1"]

    gone = sandbox.run_module("host_network", {"state": "absent"})
    assert not gone["failed"] and gone["changed"], gone.get("msg")
    wait_until(lambda: census(sandbox)["veths"] == pristine["veths"])
    after = census(sandbox)
    assert after == pristine, "teardown left something: %s" % after
    assert not sandbox.run_module("host_network", {"state": "absent"})["changed"]


def test_failing_step_is_named_and_later_steps_do_not_run(sandbox):
    # the pair's namespace is not listed: netns purges nothing, veth_pair cannot find it
    bad = dict(PLAN, namespaces=["chn-a"])
    result = sandbox.run_module("host_network", bad)
    assert result["failed"] and result["failed_step"] == "veth_pair", result
    assert result["msg"].startswith("veth_pair: ") and "chn-b" in result["msg"], result["msg"]
    assert result["changed_steps"] == ["forwarding", "netns"], result["changed_steps"]
    assert "host_route" not in result["steps"]
    routes = json.loads(sandbox.run(["ip", "-j", "-4", "route", "show", "proto", "157"]).stdout)
    assert routes == [], "a step after the failed one ran: %s" % routes


def test_a_second_run_waits_for_the_lock_then_fails_naming_the_holder(sandbox):
    holder = subprocess.Popen(["nsenter", "-t", str(sandbox.pid), "-n", "-m", "--", "flock", "-o",
                               LOCK, "sh", "-c", 'echo \'{"owner": "other-run", "pid": 4242}\' > "$0"; sleep 60',
                               LOCK], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while "other-run" not in sandbox.run(["cat", LOCK]).stdout and time.monotonic() < deadline:
            time.sleep(0.1)
        start = time.monotonic()
        result = sandbox.run_module("host_network", dict(PLAN, lock_timeout=2))
        waited = time.monotonic() - start
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
    assert result["failed"], result
    assert "another crossnet run holds this host" in result["msg"] and "other-run" in result["msg"], result["msg"]
    assert waited >= 2, "it did not wait for the lock"
    assert sandbox.run(["ip", "netns", "list"]).stdout.strip() == "", "it changed the host without the lock"
    # the lock dies with its holder: the next run goes ahead
    after = sandbox.run_module("host_network", dict(PLAN, lock_timeout=5))
    assert not after["failed"] and after["changed"], after.get("msg")


def test_a_namespace_a_process_is_in_stops_the_run_before_any_change_unless_forced(sandbox):
    pristine = census(sandbox)
    assert not sandbox.run_module("host_network", PLAN)["failed"]
    converged = census(sandbox)
    sleeper = subprocess.Popen(["nsenter", "-t", str(sandbox.pid), "-n", "-m", "--", "ip", "netns", "exec", "chn-b",
                                "sleep", "300"], stdin=subprocess.DEVNULL)
    try:
        want = sandbox.run(["stat", "-L", "-c", "%d:%i", "/run/netns/chn-b"], check=True).stdout
        wait_until(lambda: subprocess.run(["stat", "-L", "-c", "%d:%i", "/proc/%d/ns/net" % sleeper.pid],
                                          capture_output=True, text=True, check=False).stdout == want
                   and subprocess.run(["cat", "/proc/%d/comm" % sleeper.pid], capture_output=True,
                                      text=True, check=False).stdout == "sleep\n")
        named = "network namespace chn-b still has processes in it: pid %d (sleep)" % sleeper.pid
        smaller = dict(PLAN, namespaces=["chn-a"], veth_pairs=PLAN["veth_pairs"][:1], routes=PLAN["routes"][:1],
                       proxy_arp_interfaces=["chnva"])
        # no container left: forwarding (the first step) would restore ip_forward; it must not run
        empty = {"state": "present"}
        for args in (smaller, empty, {"state": "absent"}):
            for check in (True, False):
                refused = sandbox.run_module("host_network", args, check=check)
                assert refused["failed"] and refused["failed_step"] == "netns", refused
                assert refused["msg"].startswith("netns: " + named), refused["msg"]
                assert refused["changed_steps"] == [] and not refused["changed"]
                assert census(sandbox) == converged
        # the running container's namespace listed: nothing to remove, the run goes through
        assert not sandbox.run_module("host_network", PLAN)["changed"]
        forced = sandbox.run_module("host_network", {"state": "absent", "force_remove": True})
        assert not forced["failed"] and "netns" in forced["changed_steps"], forced.get("msg")
        # the namespace lives on, nameless, while the process is in it: the veth_pair step removes
        # the pair of ours whose namespace went, as at any teardown
        wait_until(lambda: census(sandbox) == pristine)
        assert census(sandbox) == pristine
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


PLAN6 = {
    "namespaces": ["chn-d", "chn-s"],
    "veth_pairs": [
        {"netns": "chn-d", "host_ifname": "chnvd", "addresses": ["10.7.0.5/32", "fd10:7::5/128"],
         "gateway": "169.254.1.1", "gateway6": "fe80::1"},
        {"netns": "chn-s", "host_ifname": "chnvs", "addresses": ["fd10:7::6/128"], "gateway6": "fe80::1"},
    ],
    "routes": [{"dest": "10.7.0.5/32", "dev": "chnvd", "scope": "link"}, {"dest": "fd10:7::5/128", "dev": "chnvd"},
               {"dest": "fd10:7::6/128", "dev": "chnvs"}],
    "proxy_arp_interfaces": ["chnvd", "chnvs"],
    "container_networks": ["10.7.0.5/32", "fd10:7::4/126"],
    "accept_ra_interfaces": ["up6"],
    "source_check_interfaces": ["chnvd", "chnvs"],
    "masquerade_sources": ["10.7.0.5/32", "fd10:7::4/126"],
    "masquerade_exclude": ["10.7.0.5/32", "fd10:7::/64"],
}


def ipv6_state(box):
    """The IPv6 side of what the collection may touch in the sandbox, as text."""
    return {"routes": box.run(["ip", "-6", "route", "show", "table", "all"]).stdout,
            "rules": "".join(line for line in box.run(["ip6tables-save"]).stdout.splitlines(True)
                             if not line.startswith("#")),
            "sysctls": box.run(["sysctl", "net.ipv6.conf.all.forwarding", "net.ipv6.conf.up6.accept_ra"]).stdout,
            "files": box.run(["ls", "/etc/sysctl.d", "/var/lib/crossnet"]).stdout}


def test_dual_stack_converge_rerun_and_teardown_to_the_prior_state(sandbox):
    """Both families in one run, a re-run without change, then a teardown that leaves the IPv6
    routes, ip6tables and the IPv6 sysctls it touched exactly as they were."""
    sandbox.run(["ip", "link", "add", "up6", "type", "veth", "peer", "name", "up6p"], check=True)
    sandbox.run(["sysctl", "-w", "net.ipv6.conf.up6.accept_ra=1", "net.ipv6.conf.all.forwarding=0"], check=True)
    pristine = ipv6_state(sandbox)
    done = sandbox.run_module("host_network", PLAN6, diff=True)
    assert not done["failed"], done.get("msg")
    converged = ipv6_state(sandbox)
    assert "fd10:7::6 dev chnvs proto crossnet metric 1024" in converged["routes"], converged["routes"]
    assert "-A CROSSNET-PREROUTING -i chnvs -m rpfilter --invert -j DROP" in converged["rules"], converged["rules"]
    assert "-A CROSSNET-POSTROUTING -s fd10:7::4/126 -j MASQUERADE" in converged["rules"]
    assert converged["sysctls"].split() == ["net.ipv6.conf.all.forwarding", "=", "1",
                                            "net.ipv6.conf.up6.accept_ra", "=", "2"]
    inside = sandbox.netns_run("chn-s", ["ip", "-6", "route", "show", "default"]).stdout
    assert inside.startswith("default via fe80::1 dev eth0 proto crossnet metric 1024"), inside
    assert sandbox.netns_run("chn-s", ["ip", "-4", "route", "show"]).stdout == ""  # IPv6 only
    again = sandbox.run_module("host_network", PLAN6)
    assert not again["failed"] and not again["changed"], again["changed_steps"]
    assert sandbox.run_module("host_network", PLAN6, check=True)["changed"] is False
    gone = sandbox.run_module("host_network", {"state": "absent"})
    assert not gone["failed"] and gone["changed"], gone.get("msg")
    for dummy in range(50):  # the kernel removes the namespaces' veths asynchronously
        if ipv6_state(sandbox) == pristine:
            break
        time.sleep(0.1)
    assert ipv6_state(sandbox) == pristine
