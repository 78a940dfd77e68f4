# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built collection: the artifact holds the collection and none of the development files,
installs with ansible-galaxy, and its `crossnet.routed.site` playbook converges a lab from the
installed copy alone."""

from __future__ import annotations

import glob
import os
import subprocess
import tarfile

from conftest import REPO, lab_name
from labkit import core

BIN = os.path.join(REPO, ".venv", "bin")
DEVELOPMENT = ("benchmarks/", "lab/", "extensions/molecule/", "scripts/", "tests/", ".ci/", ".venv/", ".git/",
               "requirements-dev.txt", ".ansible-lint")
SEED = os.path.join(REPO, "lab", "topologies", "seed.yml")


def run(argv, **kwargs):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False, **kwargs)
    assert proc.returncode == 0, "%s: %s" % (" ".join(argv), (proc.stdout + proc.stderr)[-4000:])
    return proc


def test_the_built_collection_installs_and_converges_a_lab_on_its_own(tmp_path):
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), REPO], cwd=REPO)
    [artifact] = glob.glob(str(tmp_path / "crossnet-routed-*.tar.gz"))
    with tarfile.open(artifact) as archive:
        members = archive.getnames()
    assert not [m for m in members if m.startswith(DEVELOPMENT)], [m for m in members if m.startswith(DEVELOPMENT)]
    for wanted in ("plugins/modules/host_network.py", "plugins/filter/network_plan.py",
                   "roles/container_network/meta/argument_specs.yml", "playbooks/site.yml",
                   "meta/runtime.yml", "docs/design.md", "MANIFEST.json"):
        assert wanted in members, wanted

    installed = tmp_path / "installed"
    # Only the installed copy: not this checkout (the lab's own collections link, or the one
    # scripts/test.sh puts on ANSIBLE_COLLECTIONS_PATH, where ansible-galaxy would find it
    # "already installed" and install nothing), not sys.path.
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_NOCOLOR="1", PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    env.pop("ANSIBLE_CONFIG", None)
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "--force", "-p", str(installed),
         artifact], env=env)
    assert os.path.isfile(installed / "ansible_collections" / "crossnet" / "routed" / "playbooks" / "site.yml")

    lab = core.Lab(lab_name("gb"))
    try:
        lab.up(SEED)
        playbook = [os.path.join(BIN, "ansible-playbook"), "-i", lab.inventory, "crossnet.routed.site"]
        converge = run(playbook, env=env, cwd=str(tmp_path))
        assert "failed=0" in converge.stdout and "changed=0" not in converge.stdout.split("PLAY RECAP")[-1]
        again = run(playbook, env=env, cwd=str(tmp_path))
        recap = again.stdout.split("PLAY RECAP")[-1]
        assert recap.count("changed=0") == 2 and "failed=0" in recap, recap
        run(playbook + ["-e", "crossnet_state=absent"], env=env, cwd=str(tmp_path))
    finally:
        lab.down()
