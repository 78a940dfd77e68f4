# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data plane of both families, side by side.  Needs root; run through benchmarks/run.sh:

    benchmarks/run.sh --dataplane [--rounds 5] [--iperf-seconds 5] [--shape 3gbit]

A lab from lab/topologies/dual_stack.yml (two hosts on one segment carrying IPv4 and IPv6,
a dual-stack container on each), converged with playbooks/site.yml, then ``--rounds`` rounds of
iperf3 (TCP, host1 -> host2), each round in this order: container to container over IPv6, host
to host over IPv6 (node address to node address), the same two over IPv4.  Every measurement of
a round sees the same moments of a noisy machine; a family's ratio is that of its medians.

That is done twice.  First as the lab is: host to host is then a memory copy through two veths
and a bridge, bounded only by the CPU, and container to container crosses two more veths and
two forwarding hosts on the same CPUs, so the ratio measures the CPU cost of those hops on this
machine.  Then with each host's uplink shaped to ``--shape`` (a token bucket on eth0, in the
lab's host namespaces), as a real host's NIC bounds it: the ratio then says whether the routed
path loses anything when the link, not the CPU, is the limit.
Results: benchmarks/results/dataplane-<stamp>.json and .md (and printed).  Nothing here asserts
a time; the targets are reported as met or missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "lab"))

from labkit import core  # noqa: E402

TOPOLOGY = os.path.join(REPO, "lab", "topologies", "dual_stack.yml")
SITE = os.path.join(REPO, "playbooks", "site.yml")
VENV_BIN = os.path.join(REPO, ".venv", "bin")
TARGET = {6: 0.95, 4: 0.95}  # container to container / host to host, medians
# host1's and host2's dual-stack container, and the hosts' node addresses (dual_stack.yml)
PATHS = {
    6: {"container": ("dual", "fd10:2::10"), "host": "fd00:60::4"},
    4: {"container": ("dual", "10.60.2.10"), "host": "192.168.60.4"},
}


def log(text):
    print("[dataplane %s] %s" % (time.strftime("%H:%M:%S"), text), file=sys.stderr, flush=True)


class DataPlane:
    def __init__(self, lab_name, seconds):
        self.lab = core.Lab(lab_name)
        self.seconds = seconds

    def converge(self):
        self.lab.up(TOPOLOGY)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=self.lab.collections,
                   PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
        proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", self.lab.inventory, SITE],
                              capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            raise RuntimeError("site.yml failed (exit %d):\n%s" % (proc.returncode, proc.stdout[-3000:]))

    def iperf(self, server_netns, client_netns, address):
        """Bits per second received, host1 (client) -> host2 (server)."""
        server = subprocess.Popen(self.lab.argv("host2", ["timeout", str(self.seconds + 30), "iperf3", "-s", "-1"],
                                                server_netns),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.lab.env())
        try:
            listening = self.lab.argv("host2", ["ss", "-Hltn", "sport", "=", ":5201"], server_netns)
            deadline = time.monotonic() + 10
            while not subprocess.run(listening, capture_output=True, text=True, env=self.lab.env(),
                                     check=False).stdout.strip():
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("iperf3 server in host2/%s did not start" % server_netns)
                time.sleep(0.1)
            client = self.lab.argv("host1", ["iperf3", "-c", address, "-t", str(self.seconds), "-J"], client_netns)
            proc = subprocess.run(client, capture_output=True, text=True, env=self.lab.env(),
                                  timeout=self.seconds + 20, check=False)
            try:
                return json.loads(proc.stdout)["end"]["sum_received"]["bits_per_second"]
            except (ValueError, KeyError):
                raise RuntimeError("iperf3 -> %s: exit %d: %s" % (address, proc.returncode,
                                                                  (proc.stdout + proc.stderr)[-800:])) from None
        finally:
            if server.poll() is None:
                server.terminate()  # `timeout` passes SIGTERM on to iperf3
            server.wait()

    def shape(self, rate):
        """A token bucket of ``rate`` on each host's uplink (None: remove it)."""
        for host in ("host1", "host2"):
            argv = (["tc", "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", rate, "burst", "1mb",
                     "latency", "10ms"] if rate else ["tc", "qdisc", "del", "dev", "eth0", "root"])
            subprocess.run(self.lab.argv(host, argv), env=self.lab.env(), check=True)

    def rounds(self, count):
        runs = {family: {"container": [], "host": []} for family in PATHS}
        for number in range(1, count + 1):
            for family in (6, 4):
                netns, address = PATHS[family]["container"]
                runs[family]["container"].append(self.iperf(netns, netns, address))
                runs[family]["host"].append(self.iperf(None, None, PATHS[family]["host"]))
            log("round %d: %s" % (number, "; ".join(
                "IPv%d c2c %.2f h2h %.2f Gbit/s" % (family, runs[family]["container"][-1] / 1e9,
                                                    runs[family]["host"][-1] / 1e9) for family in (6, 4))))
        return runs


def summarize(runs):
    result = {}
    for family, measured in runs.items():
        c2c, h2h = statistics.median(measured["container"]), statistics.median(measured["host"])
        result["ipv%d" % family] = {
            "container_to_container_bps": c2c, "host_to_host_bps": h2h, "ratio": c2c / h2h,
            "target": TARGET[family], "met": c2c / h2h >= TARGET[family],
            "container_to_container_runs": measured["container"], "host_to_host_runs": measured["host"]}
    return result


def markdown(results, rounds, seconds):
    lines = ["# Data plane, both families (lab/topologies/dual_stack.yml)", "",
             "%d rounds of iperf3 TCP host1 -> host2, %d s each; medians." % (rounds, seconds), "",
             "| uplinks | family | container -> container | host -> host | ratio | target | met |",
             "|---|---|---|---|---|---|---|"]
    for condition, result in results.items():
        for key in ("ipv6", "ipv4"):
            data = result[key]
            lines.append("| %s | %s | %.2f Gbit/s | %.2f Gbit/s | %.2f | >= %.2f | %s |" % (
                condition, key, data["container_to_container_bps"] / 1e9, data["host_to_host_bps"] / 1e9,
                data["ratio"], data["target"], "yes" if data["met"] else "**no**"))
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iperf-seconds", type=int, default=5)
    parser.add_argument("--shape", default="3gbit",
                        help="rate of the second pass's token bucket on each uplink (tc units; default 3gbit)")
    parser.add_argument("--lab", default=os.environ.get("XD_LAB", "xdual"))
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces)")
    bench = DataPlane(args.lab, args.iperf_seconds)
    try:
        log("lab %s up, converging" % args.lab)
        bench.converge()
        results = {"as the lab is": summarize(bench.rounds(max(1, args.rounds)))}
        bench.shape(args.shape)
        log("uplinks shaped to %s" % args.shape)
        results["shaped to %s" % args.shape] = summarize(bench.rounds(max(1, args.rounds)))
    finally:
        bench.lab.down()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    os.makedirs(args.out, exist_ok=True)
    text = markdown(results, args.rounds, args.iperf_seconds)
    for suffix, content in (("json", json.dumps(results, indent=1)), ("md", text)):
        with open(os.path.join(args.out, "dataplane-%s.%s" % (stamp, suffix)), "w", encoding="utf-8") as handle:
            handle.write(content)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
