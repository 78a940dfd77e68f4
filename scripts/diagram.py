# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Draw a lab topology's container network with playbooks/diagram.yml, no lab up, no host contacted.

    .venv/bin/python scripts/diagram.py                                   # docs/seed-lab.dot and .svg
    .venv/bin/python scripts/diagram.py lab/topologies/two_subnets.yml /tmp/two-subnets

The inventory is the one ``lab.py up`` writes (the topology's vars, each host's vars and
``ansible_host``: its first address), without the connection settings, which no step uses.
tests/unit/test_diagram.py fails when docs/seed-lab.dot or docs/seed-lab.svg is not what this
writes for lab/topologies/seed.yml: run it after a change of the filter or of the seed topology.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = os.path.join(REPO, "lab", "topologies", "seed.yml")
SEED_DEST = os.path.join(REPO, "docs", "seed-lab")


def inventory(topology_path):
    """The lab's inventory of ``topology_path`` (as ``lab.py up`` writes it, minus the connection)."""
    sys.path.insert(0, os.path.join(REPO, "lab"))
    try:
        from labkit import topology  # pylint: disable=import-outside-toplevel
    finally:
        sys.path.remove(os.path.join(REPO, "lab"))
    topo = topology.load(topology_path)
    hosts = {node.name: dict(ansible_host=node.address, **node.vars) for node in topo.hosts}
    return {"all": {"children": {"crossnet_hosts": {"vars": dict(topo.vars), "hosts": hosts}}}}


def collections_path():
    """A collections directory in which crossnet.routed is this checkout (as tests/unit uses)."""
    base = os.path.join(REPO, "tests", "output", "collections")
    link = os.path.join(base, "ansible_collections", "crossnet", "routed")
    if not os.path.lexists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        try:
            os.symlink(REPO, link)
        except FileExistsError:
            pass
    return base


def run(inventory_path, dest, extra_args=(), timeout=300):
    """Run playbooks/diagram.yml; return the CompletedProcess (output captured)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(), ANSIBLE_NOCOLOR="1",
               ANSIBLE_RETRY_FILES_ENABLED="0")
    argv = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", inventory_path,
            os.path.join(REPO, "playbooks", "diagram.yml"), "-e", "crossnet_diagram_dest=%s" % dest]
    argv.extend(extra_args)
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, check=False)


def main(argv):
    topology_path = argv[0] if argv else SEED
    dest = argv[1] if len(argv) > 1 else SEED_DEST
    with tempfile.TemporaryDirectory(prefix="crossnet-diagram-") as tmp:
        path = os.path.join(tmp, "inventory.yml")
        with open(path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(inventory(topology_path), handle, default_flow_style=False, sort_keys=False)
        proc = run(path, os.path.abspath(dest))
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
