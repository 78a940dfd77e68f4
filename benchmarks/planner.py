# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner alone (no Ansible, no lab): time and peak memory of one plan of H hosts x C
containers, and what the role's plan step adds (the network_plan filter writing every host's
part for host_network).  Each measurement runs in a fresh Python; medians of --repeat.

    .venv/bin/python benchmarks/planner.py [--sizes 100x100,300x100,1000x100] [--repeat 3]

Host h has node address 172.16.(h/250).(h%250+1) on a /16 uplink and containers
10.(h/256+1).(h%256).(i+1), so each host's addresses merge into a few CIDRs that every other
host routes to (no crossnet_container_cidr).  Peak memory is ru_maxrss after the plan minus
ru_maxrss after building the input.  Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TARGETS = {"seconds_1000x100": 3.0, "mib_1000x100": 500, "ratio_1000_to_100": 12.0}


def uplink_facts(node, uplink="eth0"):
    """What the planner reads of a host's facts: its uplink, with the node address on a /16."""
    return {"interfaces": [uplink], uplink: {
        "device": uplink, "mtu": 1500, "ipv4": {"address": node, "netmask": "255.255.0.0"}}}


def inventory(hosts, containers):
    result = {}
    for h in range(hosts):
        node = "172.16.%d.%d" % (h // 250, h % 250 + 1)
        result["h%04d" % h] = {
            "crossnet_uplink": "eth0", "crossnet_node_address": node, "ansible_facts": uplink_facts(node),
            "crossnet_containers": [{"name": "c%04d" % i, "addresses": ["10.%d.%d.%d" % (h // 256 + 1, h % 256, i + 1)]}
                                    for i in range(containers)]}
    return result


def measure(hosts, containers, what):
    """In this process: seconds and extra peak MiB of one plan (``what``: plan or store)."""
    sys.path.insert(0, collections_dir())
    from ansible import constants as C
    from ansible_collections.crossnet.routed.plugins.filter.network_plan import network_plan as plan_filter
    from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import network_plan

    variables = inventory(hosts, containers)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as tmp:
        C.DEFAULT_LOCAL_TMP = tmp
        start = time.perf_counter()
        if what == "plan":
            network_plan(variables)
        else:
            plan_filter(variables, list(variables), store=list(variables))
        seconds = time.perf_counter() - start
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    return {"seconds": seconds, "peak_mib": peak}


def collections_dir():
    base = os.path.join(REPO, "tests", "output", "collections")
    link = os.path.join(base, "ansible_collections", "crossnet", "routed")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if not os.path.lexists(link):
        os.symlink(REPO, link)
    return base


def fresh(hosts, containers, what):
    out = subprocess.run([sys.executable, __file__, "--one", "%dx%d" % (hosts, containers), "--what", what],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100x100,300x100,1000x100", help="HOSTSxCONTAINERS, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--what", default="plan", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        hosts, containers = (int(part) for part in args.one.split("x"))
        print(json.dumps(measure(hosts, containers, args.what)))
        return 0
    rows = {}
    print("| hosts x containers | one plan (s) | peak (MiB) | plan + store every host's part (s) | ratio |")
    print("|---|---|---|---|---|")
    for size in args.sizes.split(","):
        hosts, containers = (int(part) for part in size.split("x"))
        plans = [fresh(hosts, containers, "plan") for dummy in range(args.repeat)]
        stores = [fresh(hosts, containers, "store") for dummy in range(args.repeat)]
        row = rows[size] = {
            "seconds": statistics.median(r["seconds"] for r in plans),
            "peak_mib": statistics.median(r["peak_mib"] for r in plans),
            "store_seconds": statistics.median(r["seconds"] for r in stores),
            "runs": {"plan": plans, "store": stores}}
        ratio = row["store_seconds"] / row["seconds"]
        print("| %s | %.2f | %.0f | %.2f | %.2fx |"
              % (size, row["seconds"], row["peak_mib"], row["store_seconds"], ratio))
    if "1000x100" in rows and "100x100" in rows:
        big, small = rows["1000x100"], rows["100x100"]
        print("\nTargets at 1000x100: %.2f s (<= %.1f s: %s), %.0f MiB (<= %d: %s), 1000x100 / 100x100 = %.1fx (<= %.0fx: %s)"
              % (big["seconds"], TARGETS["seconds_1000x100"], big["seconds"] <= TARGETS["seconds_1000x100"],
                 big["peak_mib"], TARGETS["mib_1000x100"], big["peak_mib"] <= TARGETS["mib_1000x100"],
                 big["seconds"] / small["seconds"], TARGETS["ratio_1000_to_100"],
                 big["seconds"] / small["seconds"] <= TARGETS["ratio_1000_to_100"]))
    out = os.path.join(HERE, "results", "planner-%s.json" % time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(rows, handle, indent=2)
    print("\nwritten: %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
