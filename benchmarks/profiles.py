# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the time goes: the profiles of a `run.sh --profile modules|controller` run.

    python benchmarks/profiles.py benchmarks/results/latest/n1000 [--top 25] [--match converge]
Prints, per module (cProfile files profile-<host>/<phase>/<module>-*.prof), the functions with
the most cumulative time; per controller phase (py-spy samples controller-<phase>.txt), the
seconds each kind of process spent (ansible-playbook's main process, and its workers by the
action they ran, e.g. validate_argument_spec, host_network) and their heaviest frames.
"""

from __future__ import annotations

import argparse
import collections
import glob
import io
import os
import pstats
import re

from bench import SPY_RATE  # the rate bench.py samples at: samples back to seconds
ACTION = re.compile(r"^ActionModule\.run \((?:.*/)?([a-z_0-9]+)\.py:\d+\)$")


def show(title, files, top, sort):
    stats = pstats.Stats(files[0], stream=io.StringIO())
    for path in files[1:]:
        stats.add(path)
    out = io.StringIO()
    stats.stream = out
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    body = out.getvalue()
    print("=" * 100)
    print("%s (%d runs)" % (title, len(files)))
    print(body[body.find("   ncalls"):] if "   ncalls" in body else body)


def _spy_stacks(path):
    """(process label, frames, samples) of a py-spy raw file; a worker is labelled by its action."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    for line in lines:
        stack, dummy, count = line.rpartition(" ")
        frames = stack.split(";")
        if len(frames) > 1 and frames[1].startswith("process "):
            frames = frames[2:]
            actions = [m.group(1) for m in map(ACTION.match, frames) if m]
            label = "worker: %s" % (actions[0] if actions else "(no action)")
        else:
            frames, label = frames[1:], "main process"
        yield label, frames, int(count)


def show_spy(title, path, top):
    totals, inclusive = collections.Counter(), collections.defaultdict(collections.Counter)
    for label, frames, count in _spy_stacks(path):
        totals[label] += count
        for frame in set(frames):
            inclusive[label][frame] += count
    print("=" * 100)
    print("%s: seconds sampled per process kind (all processes of the kind summed)" % title)
    for label, count in totals.most_common():
        print("%8.2f s  %s" % (count / SPY_RATE, label))
    for label, count in totals.most_common():
        print("-" * 100)
        print("%s, %.2f s: heaviest frames (inclusive; those in nearly every sample left out)"
              % (label, count / SPY_RATE))
        heavy = [(frame, n) for frame, n in inclusive[label].most_common() if n < 0.95 * count][:top]
        for frame, frame_count in heavy:
            print("%8.2f s  %s" % (frame_count / SPY_RATE, frame))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--match", default="")
    args = parser.parse_args()
    modules = {}
    for path in sorted(glob.glob(os.path.join(args.dir, "profile-*", "*", "*.prof"))):
        phase = os.path.basename(os.path.dirname(path))
        host = os.path.basename(os.path.dirname(os.path.dirname(path)))[len("profile-"):]
        module = os.path.basename(path).split("-")[0]
        modules.setdefault((phase, module, host), []).append(path)
    for (phase, module, host), files in sorted(modules.items()):
        if args.match in "%s %s" % (phase, module):
            show("%s: module %s on %s" % (phase, module, host), files, args.top, args.sort)
    for path in sorted(glob.glob(os.path.join(args.dir, "controller-*.txt"))):
        if args.match in path:
            show_spy("controller: ansible-playbook %s" % os.path.basename(path), path, args.top)


if __name__ == "__main__":
    main()
