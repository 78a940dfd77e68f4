# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The crossnet lab: simulated hosts on one machine, reachable over ssh.  Needs root.

    python lab/lab.py up lab/topologies/seed.yml [--name seed]   # prints the inventory path
    python lab/lab.py down seed                                  # or: down --all [--keep NAME...]
    python lab/lab.py list                                       # names of the labs up
    python lab/lab.py status [seed]
    python lab/lab.py inventory seed
    python lab/lab.py exec seed host1 [--netns container0] -- ip addr
    python lab/lab.py probe seed [--json FILE] [--check] [--sources all|first] [--jobs 8]
                                                                 # connectivity matrix
    python lab/lab.py fleet --hosts 64 --containers 10 [--racks 4] [--up [--name fleet]]
                                                                 # a generated fleet topology

probe: ping and TCP "who are you" from the containers to every other container, every other host
and every outside node, over each IP version both ends have (IPv4 matrix, then an IPv6 one).  --sources all (default) probes from every container (C x T rows);
--sources first from the first container of each host only, still to every target (a 64 x 10
fleet, 705 targets: 640 x 703 rows with all, 64 x 703 with first).  --jobs: source containers swept at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import yaml  # noqa: E402

from labkit import core, fleet, probe  # noqa: E402
from labkit.topology import TopologyError  # noqa: E402


def lab_name(args):
    if args.name:
        return args.name
    return os.path.splitext(os.path.basename(args.topology))[0]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lab.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="bring a lab up (idempotent)")
    up.add_argument("topology")
    up.add_argument("--name", help="lab name (default: the topology file's name)")
    down = sub.add_parser("down", help="remove every namespace, process and file of a lab")
    down.add_argument("name", nargs="?")
    down.add_argument("--all", action="store_true", help="every lab on this machine (xl-* namespaces)")
    down.add_argument("--keep", nargs="+", default=[], metavar="NAME", help="with --all: leave these labs up")
    sub.add_parser("list", help="names of the labs on this machine, one per line")
    status = sub.add_parser("status", help="labs and their nodes, as JSON")
    status.add_argument("name", nargs="?")
    inventory = sub.add_parser("inventory", help="print the inventory path of a lab")
    inventory.add_argument("name")
    run = sub.add_parser("exec", help="run a command on a lab node (or in one of its containers)")
    run.add_argument("name")
    run.add_argument("node")
    run.add_argument("--netns", help="container namespace on the host")
    run.add_argument("cmd", nargs="+")
    matrix = sub.add_parser("probe", help="ping and TCP 'who are you' from every container")
    matrix.add_argument("name")
    matrix.add_argument("--json", help="also write the rows to this file")
    matrix.add_argument("--check", action="store_true", help="exit 1 unless every row is as expected")
    matrix.add_argument("--sources", choices=probe.SOURCES, default="all",
                        help="from every container (all, the default) or from the first container of each host "
                             "(first); to every target either way")
    matrix.add_argument("--jobs", type=int, default=probe.JOBS,
                        help="source containers swept at once (default %d)" % probe.JOBS)
    generate = sub.add_parser("fleet", help="write a fleet topology (H hosts x C containers), or bring it up")
    generate.add_argument("--hosts", type=int, required=True)
    generate.add_argument("--containers", type=int, default=10, help="per host (default 10)")
    generate.add_argument("--racks", type=int, default=1,
                          help="segments the hosts are spread over, joined into one L2 network (default 1)")
    generate.add_argument("--python", default="alternate",
                          help="venv, system, an absolute path, or alternate (default: odd hosts venv, even system)")
    generate.add_argument("--cidr", action="store_true", help="give each host a crossnet_container_cidr")
    generate.add_argument("--up", action="store_true", help="bring the fleet up (prints the inventory path)")
    generate.add_argument("--name", default="fleet", help="with --up: the lab's name (default fleet)")
    generate.add_argument("-o", "--output", help="also write the topology to this file (default: standard output; "
                                                 "with --up none)")
    args = parser.parse_args(argv)

    try:
        if args.command == "up":
            lab = core.Lab(lab_name(args))
            lab.up(args.topology)
            print(lab.inventory)
        elif args.command == "fleet":
            doc = fleet.topology(args.hosts, args.containers, args.racks, args.python, args.cidr)
            text = "# lab.py fleet --hosts %d --containers %d --racks %d\n---\n%s" % (
                args.hosts, args.containers, args.racks, yaml.safe_dump(doc, sort_keys=False))
            if not args.up:
                if args.output:
                    with open(args.output, "w", encoding="utf-8") as handle:
                        handle.write(text)
                else:
                    sys.stdout.write(text)
                return 0
            lab = core.Lab(args.name)
            with tempfile.NamedTemporaryFile("w", suffix=".yml", dir=args.output and os.path.dirname(
                    os.path.abspath(args.output)), delete=not args.output, encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                if args.output:
                    os.replace(handle.name, args.output)
                lab.up(args.output or handle.name)
            print(lab.inventory)
        elif args.command == "down":
            if bool(args.name) == args.all:
                parser.error("down takes a lab name or --all")
            if args.keep and not args.all:
                parser.error("--keep goes with --all")
            for name in (core.all_labs() if args.all else [args.name]):
                if name not in args.keep:
                    core.Lab(name).down()
        elif args.command == "list":
            for name in core.all_labs():
                print(name)
        elif args.command == "status":
            names = [args.name] if args.name else core.all_labs()
            print(json.dumps([core.Lab(n).status() for n in names], indent=2))
        elif args.command == "inventory":
            lab = core.Lab(args.name)
            if lab.state() is None:
                raise core.LabError("lab %s is not up" % args.name)
            print(lab.inventory)
        elif args.command == "exec":
            cmd = args.cmd[1:] if args.cmd[0] == "--" else args.cmd
            lab = core.Lab(args.name)
            os.execvpe(lab.argv(args.node, cmd, args.netns)[0], lab.argv(args.node, cmd, args.netns), lab.env())
        elif args.command == "probe":
            rows = probe.probe(core.Lab(args.name), args.sources, max(1, args.jobs))
            print(probe.render(rows))
            if args.json:
                with open(args.json, "w", encoding="utf-8") as handle:
                    json.dump(rows, handle, indent=2)
            if args.check and not all(row["ok"] for row in rows):
                return 1
    except (core.LabError, TopologyError, fleet.FleetError, OSError) as exc:
        print("lab.py %s: %s" % (args.command, exc), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
