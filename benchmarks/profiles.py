# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the time goes: the cProfile files of a `run.sh --profile modules|controller` run.

    python benchmarks/profiles.py benchmarks/results/latest/n1000 [--top 25] [--match converge]
Prints, per module (files profile-<host>/<phase>/<module>-*.prof) and per controller phase
(controller-<phase>.prof), the functions with the most cumulative time.
"""

from __future__ import annotations

import argparse
import glob
import io
import os
import pstats


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
    for path in sorted(glob.glob(os.path.join(args.dir, "controller-*.prof"))):
        if args.match in path:
            show("controller: ansible-playbook %s" % os.path.basename(path), [path], args.top, args.sort)


if __name__ == "__main__":
    main()
