# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""This working tree against another revision, side by side on one lab.  Needs root; run as
    benchmarks/compare.sh REV [--size 1000] [--rounds 5]

One lab of 2 hosts with N containers each.  The collection of REV (a git worktree) and this
tree's take turns, so that both see the same load: ``rounds`` idempotent re-runs each, then
``rounds`` (teardown, first converge) each.  Prints every wall and CPU time, the medians and
their ratios.
Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench  # noqa: E402  (also makes lab/labkit importable)


def worktree(rev, where):
    """A checkout of ``rev`` in ``where`` and a collections directory pointing at it."""
    subprocess.run(["git", "-C", bench.REPO, "worktree", "add", "--detach", "-f", where, rev],
                   check=True, capture_output=True, text=True)
    parent = os.path.join(where + "-collections", "ansible_collections", "crossnet")
    os.makedirs(parent)
    os.symlink(where, os.path.join(parent, "routed"))
    return where + "-collections"


def run(runner, label, collections, phase, counts, extra_vars=None):
    runner.collections = collections
    result = runner.playbook(phase, counts, extra_vars)
    changed = sum(r["changed"] for r in result["recap"].values())
    bench.log("%s %s: %.2f s (CPU %.2f s), changed %d" % (label, phase, result["wall"], result["cpu"], changed))
    return {"wall": result["wall"], "cpu": result["cpu"]}, changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the revision to compare with (e.g. HEAD~3, a tag, a commit)")
    parser.add_argument("--size", type=int, default=1000, help="containers per host (default 1000)")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each phase and side (default 5)")
    parser.add_argument("--lab", default=os.environ.get("XB_LAB", "xbcompare"))
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces)")
    rundir = os.path.join(os.path.abspath(args.out), time.strftime("%Y%m%d-%H%M%S") + "-compare")
    os.makedirs(rundir)
    scratch = tempfile.mkdtemp(prefix="crossnet-compare-")
    checkout = os.path.join(scratch, "rev")
    sides = {args.rev: worktree(args.rev, checkout), "this tree": bench.workload.collections_dir(rundir)}
    runner = bench.Bench(args.size, rundir, "venv", False, None, 1, args.lab)
    counts = {host: args.size for host in runner.hosts}
    times = {side: {"rerun": [], "converge": []} for side in sides}
    try:
        runner.up()
        run(runner, "this tree", sides["this tree"], "converge", counts)
        for index in range(args.rounds):
            for side, collections in sides.items():
                taken, changed = run(runner, side, collections, "rerun", counts)
                if changed:
                    raise bench.BenchError("%s: the re-run changed %d hosts" % (side, changed))
                times[side]["rerun"].append(taken)
        for index in range(args.rounds):
            for side, collections in sides.items():
                run(runner, side, collections, "teardown", counts, {"crossnet_state": "absent"})
                time.sleep(3)  # the kernel removes the namespaces' veths after the run
                times[side]["converge"].append(run(runner, side, collections, "converge", counts)[0])
    finally:
        runner.down()
        subprocess.run(["git", "-C", bench.REPO, "worktree", "remove", "--force", checkout],
                       check=False, capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    lines = ["# %s against %s, N=%d per host, %d rounds, alternating" % ("this tree", args.rev, args.size, args.rounds), ""]
    lines += ["| phase | %s s (median) | this tree s (median) | this tree / %s |" % (args.rev, args.rev),
              "| --- | --- | --- | ---: |"]
    # CPU: ansible-playbook and its children on the controller plus the module processes on the
    # hosts; steadier than wall time on a busy machine
    for phase in ("rerun", "converge"):
        for measure in ("wall", "cpu"):
            old, new = ([t[measure] for t in times[side][phase]] for side in sides)
            lines.append("| %s, %s | %s (%.2f) | %s (%.2f) | %.2f |" % (
                phase, measure.upper() if measure == "cpu" else measure,
                ", ".join("%.2f" % w for w in old), statistics.median(old),
                ", ".join("%.2f" % w for w in new), statistics.median(new),
                statistics.median(new) / statistics.median(old)))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(rundir, "compare.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    with open(os.path.join(rundir, "compare.json"), "w", encoding="utf-8") as handle:
        json.dump({"rev": args.rev, "size": args.size, "times": times}, handle, indent=1)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
