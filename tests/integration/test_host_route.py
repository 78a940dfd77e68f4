# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""crossnet.routed.host_route against the kernel, inside a sandbox; ends with two containers
pinging each other through the sandbox host's /32 routes."""

from __future__ import annotations

import json
import time

from pings import PING, PING6


def routes(box, netns=None, *selector):
    argv = ["ip", "-j", "-4", "route", "show", "table", "main"] + list(selector)
    proc = box.netns_run(netns, argv) if netns else box.run(argv)
    return {r["dst"]: r for r in json.loads(proc.stdout or "[]")}


def containers(box, names=("cnt1-a", "cnt1-b")):
    assert not box.run_module("netns", {"names": list(names)})["failed"]
    pairs = [{"netns": n, "host_ifname": n.replace("-", "") + "h", "addresses": ["10.9.0.%d" % (i + 1)],
              "gateway": "169.254.1.1"} for i, n in enumerate(names)]
    result = box.run_module("veth_pair", {"pairs": pairs})
    assert not result["failed"], result.get("msg")
    return [p["host_ifname"] for p in pairs]


def host_routes(hosts):
    return [{"dest": "10.9.0.%d" % (i + 1), "dev": h} for i, h in enumerate(hosts)]


def container_routes(netns):
    return [{"netns": netns, "dest": "169.254.1.1/32", "dev": "eth0", "scope": "link"},
            {"netns": netns, "dest": "0.0.0.0/0", "gateway": "169.254.1.1", "dev": "eth0"}]


def test_create_idempotent_check_and_diff(sandbox):
    hosts = containers(sandbox)
    args = {"routes": host_routes(hosts)}
    predicted = sandbox.run_module("host_route", args, check=True, diff=True)
    assert predicted["changed"] and len(predicted["added"]) == 2 and routes(sandbox) == {}
    done = sandbox.run_module("host_route", args, diff=True)
    assert done["changed"] and not done["failed"], done.get("msg")
    have = routes(sandbox, None, "proto", "157")
    assert sorted(have) == ["10.9.0.1", "10.9.0.2"] and have["10.9.0.1"]["dev"] == hosts[0]
    assert have["10.9.0.1"]["scope"] == "link"
    assert sandbox.run(["cat", "/etc/iproute2/rt_protos.d/crossnet.conf"]).stdout.split() == ["157", "crossnet"]
    assert done["diff"]["before"] == {"routes": [], "protocol_name_file": None}
    assert len(done["diff"]["after"]["routes"]) == 2
    assert done["diff"]["after"]["protocol_name_file"] == "/etc/iproute2/rt_protos.d/crossnet.conf"
    again = sandbox.run_module("host_route", args, diff=True)
    assert again["changed"] is False and again["diff"]["before"] == again["diff"]["after"]
    assert sandbox.run_module("host_route", args, check=True)["changed"] is False


def test_drift_foreign_adopt_purge_absent(sandbox):
    hosts = containers(sandbox)
    sandbox.run_module("host_route", {"routes": host_routes(hosts) + [{"dest": "10.9.5.0/24", "dev": hosts[0]}]})
    sandbox.run(["ip", "route", "del", "10.9.0.1/32"], check=True)
    sandbox.run(["ip", "route", "replace", "10.9.0.2/32", "dev", hosts[0], "proto", "157"], check=True)
    sandbox.run(["ip", "route", "add", "10.9.7.0/24", "dev", hosts[0]], check=True)  # proto boot: foreign
    fixed = sandbox.run_module("host_route", {"routes": host_routes(hosts), "purge": True})
    assert fixed["changed"] and [r["dest"] for r in fixed["added"]] == ["10.9.0.1/32"]
    assert [r["dest"] for r in fixed["replaced"]] == ["10.9.0.2/32"]
    assert [r["dest"] for r in fixed["removed"]] == ["10.9.5.0/24"]
    have = routes(sandbox)
    assert have["10.9.0.2"]["dev"] == hosts[1] and "10.9.7.0/24" in have and "10.9.5.0/24" not in have

    foreign = {"routes": [{"dest": "10.9.7.0/24", "dev": hosts[1]}]}
    refused = sandbox.run_module("host_route", foreign)
    assert refused["failed"] and "10.9.7.0/24" in refused["msg"] and "adopt" in refused["msg"]
    assert routes(sandbox)["10.9.7.0/24"]["dev"] == hosts[0]
    adopted = sandbox.run_module("host_route", dict(foreign, adopt=True))
    assert adopted["changed"] and routes(sandbox, None, "proto", "157")["10.9.7.0/24"]["dev"] == hosts[1]

    absent = sandbox.run_module("host_route", {"routes": host_routes(hosts), "state": "absent"}, diff=True)
    assert absent["changed"] and len(absent["removed"]) == 2
    assert sorted(routes(sandbox, None, "proto", "157")) == ["10.9.7.0/24"]
    assert sandbox.run_module("host_route", {"routes": host_routes(hosts), "state": "absent"})["changed"] is False


def test_errors_name_the_object(sandbox):
    missing_dev = sandbox.run_module("host_route", {"routes": [{"dest": "10.9.0.1", "dev": "cnt1nodev"}]})
    assert missing_dev["failed"] and "cnt1nodev" in missing_dev["msg"]
    missing_ns = sandbox.run_module("host_route", {"routes": container_routes("cnt1-nope")})
    assert missing_ns["failed"] and "cnt1-nope" in missing_ns["msg"]
    bad = sandbox.run_module("host_route", {"routes": [{"dest": "10.9.0.1/24", "dev": "lo"}]})
    assert bad["failed"] and "10.9.0.0/24" in bad["msg"]


def test_two_containers_ping_through_the_host(sandbox):
    """The role's split: veth_pair gives the containers their gateway routes, host_route the host's."""
    hosts = containers(sandbox)
    plan = host_routes(hosts)
    done = sandbox.run_module("host_route", {"routes": plan, "purge": True})
    assert done["changed"] and len(done["added"]) == 2, done.get("msg")
    assert not sandbox.run_module("proxy_arp", {"interfaces": hosts})["failed"]
    assert sandbox.run_module("host_route", {"routes": plan, "purge": True})["changed"] is False
    inside = routes(sandbox, "cnt1-a", "proto", "157")
    assert inside["default"]["gateway"] == "169.254.1.1" and inside["169.254.1.1"]["scope"] == "link"
    sandbox.run(["sysctl", "-w", "net.ipv4.ip_forward=1"], check=True)  # the sandbox's own netns
    ping = sandbox.netns_run("cnt1-a", ["python3", "-c", PING, "10.9.0.2"])
    assert ping.returncode == 0 and ping.stdout.strip() == "reply from 10.9.0.2", ping.stdout + ping.stderr

    # a container going away takes its routes with it; purge must not trip over that
    assert not sandbox.run_module("netns", {"names": ["cnt1-a"], "purge": True})["failed"]
    remaining = host_routes(hosts)[:1]
    for dummy in range(50):
        result = sandbox.run_module("host_route", {"routes": remaining, "purge": True})
        assert not result["failed"], result.get("msg")
        if hosts[1] not in json.dumps(routes(sandbox)):
            break
        time.sleep(0.1)
    assert sorted(routes(sandbox)) == ["10.9.0.1"]


def test_routes_in_a_namespace_still_work(sandbox):
    containers(sandbox, ("cnt1-a",))
    extra = [{"netns": "cnt1-a", "dest": "10.96.0.0/12", "gateway": "169.254.1.1", "dev": "eth0"}]
    done = sandbox.run_module("host_route", {"routes": extra})
    assert done["changed"] and routes(sandbox, "cnt1-a", "proto", "157")["10.96.0.0/12"]["gateway"] == "169.254.1.1"
    assert sandbox.run_module("host_route", {"routes": extra})["changed"] is False
    gone = sandbox.run_module("host_route", {"routes": extra, "state": "absent"})
    assert gone["changed"] and "10.96.0.0/12" not in routes(sandbox, "cnt1-a")


def test_purge_of_the_last_route_removes_the_protocol_name(sandbox):
    names = "/etc/iproute2/rt_protos.d/crossnet.conf"
    hosts = containers(sandbox)
    assert sandbox.run_module("host_route", {"routes": host_routes(hosts)})["changed"]
    assert sandbox.run(["test", "-e", names]).returncode == 0
    some_left = sandbox.run_module("host_route", {"routes": host_routes(hosts)[:1], "purge": True}, diff=True)
    assert some_left["changed"] and "protocol_name_file" not in some_left["diff"]["after"]
    assert sandbox.run(["test", "-e", names]).returncode == 0
    predicted = sandbox.run_module("host_route", {"routes": [], "purge": True}, check=True, diff=True)
    assert predicted["changed"] and predicted["diff"]["before"]["protocol_name_file"] == names
    assert predicted["diff"]["after"]["protocol_name_file"] is None
    assert sandbox.run(["test", "-e", names]).returncode == 0
    purged = sandbox.run_module("host_route", {"routes": [], "purge": True}, diff=True)
    assert purged["changed"] and len(purged["removed"]) == 1
    assert purged["diff"]["before"]["protocol_name_file"] == names
    assert sandbox.run(["test", "-e", names]).returncode == 1
    assert sandbox.run_module("host_route", {"routes": [], "purge": True})["changed"] is False
    # routes of ours in a container namespace do not keep the name alive in the host's
    assert routes(sandbox, "cnt1-a", "proto", "157")


# -- IPv6 ------------------------------------------------------------------------------------
def routes6(box, netns=None, *selector):
    argv = ["ip", "-j", "-6", "route", "show", "table", "main"] + list(selector)
    proc = box.netns_run(netns, argv) if netns else box.run(argv)
    return {r["dst"]: r for r in json.loads(proc.stdout or "[]")}


def containers6(box, names=("cnt1-a", "cnt1-b")):
    assert not box.run_module("netns", {"names": list(names)})["failed"]
    pairs = [{"netns": n, "host_ifname": n.replace("-", "") + "h", "addresses": ["fd10:9::%d" % (i + 1)],
              "gateway6": "fe80::1"} for i, n in enumerate(names)]
    result = box.run_module("veth_pair", {"pairs": pairs})
    assert not result["failed"], result.get("msg")
    return [p["host_ifname"] for p in pairs]


def test_ipv6_routes_idempotent_drift_purge_and_ping(sandbox):
    """/128 routes to IPv6-only containers (no scope, metric 0 read back as 1024), then the two
    containers ping each other through the sandbox host."""
    hosts = containers6(sandbox)
    plan = [{"dest": "fd10:9::%d" % (i + 1), "dev": h} for i, h in enumerate(hosts)]
    plan.append({"dest": "fd10:8::/64", "gateway": "fd10:9::2", "dev": hosts[1], "onlink": True})
    done = sandbox.run_module("host_route", {"routes": plan, "purge": True}, diff=True)
    assert done["changed"] and len(done["added"]) == 3 and not done["failed"], done.get("msg")
    have = routes6(sandbox, None, "proto", "157")
    assert sorted(have) == ["fd10:8::/64", "fd10:9::1", "fd10:9::2"]
    assert have["fd10:9::1"]["dev"] == hosts[0] and have["fd10:9::1"]["metric"] == 1024
    assert have["fd10:8::/64"]["gateway"] == "fd10:9::2" and "onlink" in have["fd10:8::/64"]["flags"]
    assert [r["metric"] for r in done["routes"]] == [1024, 1024, 1024]
    assert sandbox.run_module("host_route", {"routes": plan, "purge": True})["changed"] is False
    assert sandbox.run_module("host_route", {"routes": plan}, check=True)["changed"] is False
    # drift: one deleted, one pointed elsewhere, one of ours that is no longer listed
    sandbox.run(["ip", "-6", "route", "del", "fd10:9::1/128"], check=True)
    sandbox.run(["ip", "-6", "route", "replace", "fd10:9::2/128", "dev", hosts[0], "proto", "157"], check=True)
    sandbox.run(["ip", "-6", "route", "add", "fd10:7::/64", "dev", hosts[0], "proto", "157"], check=True)
    sandbox.run(["ip", "-6", "route", "add", "fd10:6::/64", "dev", hosts[0]], check=True)  # proto boot: not ours
    fixed = sandbox.run_module("host_route", {"routes": plan, "purge": True})
    assert [r["dest"] for r in fixed["added"]] == ["fd10:9::1/128"]
    assert [r["dest"] for r in fixed["replaced"]] == ["fd10:9::2/128"]
    assert [r["dest"] for r in fixed["removed"]] == ["fd10:7::/64"]
    assert "fd10:6::/64" in routes6(sandbox) and routes6(sandbox)["fd10:9::2"]["dev"] == hosts[1]
    refused = sandbox.run_module("host_route", {"routes": [{"dest": "fd10:6::/64", "dev": hosts[1]}]})
    assert refused["failed"] and "fd10:6::/64" in refused["msg"] and "adopt" in refused["msg"]
    sandbox.run(["sysctl", "-w", "net.ipv6.conf.all.forwarding=1"], check=True)  # the sandbox's own netns
    ping = sandbox.netns_run("cnt1-a", ["python3", "-c", PING6, "fd10:9::2"])
    assert ping.returncode == 0 and ping.stdout.strip() == "reply from fd10:9::2", ping.stdout + ping.stderr
    gone = sandbox.run_module("host_route", {"routes": [], "purge": True})
    assert gone["changed"] and sorted(routes6(sandbox, None, "proto", "157")) == []
    assert "fd10:6::/64" in routes6(sandbox)


def test_ipv6_route_errors(sandbox):
    bad_family = sandbox.run_module("host_route", {"routes": [{"dest": "fd10:9::/64", "gateway": "10.0.0.1",
                                                               "dev": "lo"}]})
    assert bad_family["failed"] and "10.0.0.1 is not of the destination's family" in bad_family["msg"]
    host_bits = sandbox.run_module("host_route", {"routes": [{"dest": "fd10:9::1/64", "dev": "lo"}]})
    assert host_bits["failed"] and "fd10:9::/64" in host_bits["msg"]
