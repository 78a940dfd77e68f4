# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What reading the benchmark's inventory costs ansible-playbook, by file format and by the
inventory plugins enabled.  No lab, no root: a play with no tasks against the two hosts.

    .venv/bin/python benchmarks/inventory_cost.py [--size 1000] [--rounds 5]

Ansible's default ``enable_plugins`` tries ``auto`` before ``yaml``: ``auto`` parses every
.yml source to look for a ``plugin:`` key, and ``yaml`` then gets the file from the loader's
cache as a deep copy, which at thousands of containers costs more than parsing it.  The cases
run in turns (round-robin), so that they see the same load; medians are printed.  Nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import workload  # noqa: E402

ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(HERE), ".venv", "bin", "ansible-playbook")
DEFAULT_PLUGINS = "host_list,script,auto,yaml,ini,toml"  # ansible-core's default
WITHOUT_AUTO = "host_list,script,yaml,ini,toml"
PLAY = [{"hosts": "crossnet_hosts", "gather_facts": False, "tasks": []}]


def write(path, doc, fmt):
    with open(path, "w", encoding="utf-8") as handle:
        if fmt == "json":
            json.dump(doc, handle)
        else:
            yaml.safe_dump(doc, handle)
    return path


def inventories(folder, size):
    counts = {name: size for name, dummy in workload.HOSTS}
    full = {"all": {"children": {"crossnet_hosts": {"hosts": workload.host_vars(counts)}}}}
    bare = {"all": {"children": {"crossnet_hosts": {"hosts": {name: {} for name, dummy in workload.HOSTS}}}}}
    return {
        "2 hosts, no variables (YAML)": (write(os.path.join(folder, "bare.yml"), bare, "yaml"), DEFAULT_PLUGINS),
        "%d containers/host, YAML" % size: (write(os.path.join(folder, "full.yml"), full, "yaml"), DEFAULT_PLUGINS),
        "%d containers/host, YAML, without auto" % size: (os.path.join(folder, "full.yml"), WITHOUT_AUTO),
        "%d containers/host, JSON" % size: (write(os.path.join(folder, "full.json"), full, "json"), DEFAULT_PLUGINS),
        "%d containers/host, JSON, without auto" % size: (os.path.join(folder, "full.json"), WITHOUT_AUTO),
    }


def timed(playbook, inventory, plugins, folder):
    env = dict(os.environ, ANSIBLE_INVENTORY_ENABLED=plugins, ANSIBLE_HOME=os.path.join(folder, "home"),
               ANSIBLE_LOCAL_TEMP=os.path.join(folder, "tmp"))
    env.pop("ANSIBLE_CONFIG", None)
    start = time.monotonic()
    subprocess.run([ANSIBLE_PLAYBOOK, "-i", inventory, playbook], cwd=folder, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="containers per host (default 1000)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xb-inventory-") as folder:
        playbook = write(os.path.join(folder, "play.yml"), PLAY, "yaml")
        cases = inventories(folder, args.size)
        walls = {case: [] for case in cases}
        for dummy in range(args.rounds):
            for case, (inventory, plugins) in cases.items():
                walls[case].append(timed(playbook, inventory, plugins, folder))
    print("| ansible-playbook, a play with no tasks | median wall s | every run |")
    print("| --- | ---: | --- |")
    for case, times in walls.items():
        print("| %s | %.2f | %s |" % (case, statistics.median(times), ", ".join("%.2f" % t for t in times)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
