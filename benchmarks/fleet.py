# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection over many hosts, against Ansible's own cost (issue 14).  Needs root; run
through benchmarks/run.sh.  Three families, each on a lab of its own (lab/labkit/fleet.py):

  --hosts 2,8,32,64       H hosts x --containers (10), forks = min(H, 32): first converge, then
                          --repeat times in turn a re-run (changed must be 0) and the two-ping
                          bound (benchmarks/ansible_two_trips.yml, same inventory and forks),
                          then teardown.  Also the lab's start time and memory, and the
                          controller's planning per run against one plan of the same inventory.
  --limit 250x40          an inventory of 250 hosts x 40 containers (each with its block), of
                          which --real (2) are lab hosts and the rest only planned around (never
                          contacted); every run with --limit to the real ones.  Checks that each
                          real host routes to every other host's block.
  --default-path 200      2 hosts x N containers with the role's defaults: packages managed
                          (crossnet_manage_packages=true) and no pipelining, for the role and
                          for the bound.

Results: benchmarks/results/<stamp>-fleet/ (results.json, summary.md, time_vs_hosts.png).
Nothing here asserts a time; the targets are reported as met or missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "lab"))
sys.path.insert(0, HERE)

from labkit import core  # noqa: E402
from labkit import fleet as lab_fleet  # noqa: E402

import bench  # noqa: E402
import planner  # noqa: E402
import workload  # noqa: E402

VENV_BIN = os.path.join(REPO, ".venv", "bin")
SITE = os.path.join(REPO, "playbooks", "site.yml")
TWO_TRIPS = os.path.join(HERE, "ansible_two_trips.yml")
NO_TASK = os.path.join(HERE, "ansible_no_task.yml")
MAX_FORKS = 32
TARGETS = {"rerun_over_bound": 1.5, "planning_over_one_plan": 1.3}
# Hosts that are only planned around: never contacted (--limit), and were one ever tried, the
# connection would go to a closed port on loopback, not out of this machine.
NOT_CONTACTED = {"ansible_host": "127.0.0.1", "ansible_port": 9}


class FleetBenchError(RuntimeError):
    pass


def log(message):
    print("[fleet %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def mem_used_mib():
    """Memory in use as free(1) counts it: neither free nor page cache nor reclaimable slab."""
    fields = {}
    with open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0])
    return (fields["MemTotal"] - fields["MemFree"] - fields["Buffers"] - fields["Cached"]
            - fields.get("SReclaimable", 0)) / 1024


def settled_mem_used_mib(timeout=15.0):
    """mem_used_mib() once it has stopped moving: the kernel frees a lab's namespaces some time
    after `down` returns, which would count against the next lab."""
    deadline = time.monotonic() + timeout
    last = mem_used_mib()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = mem_used_mib()
        if abs(now - last) < 2:
            return now
        last = now
    return last


def pss_mib(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid, encoding="utf-8") as handle:
                total += sum(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
        except OSError:
            pass
    return total / 1024


def one_plan_seconds(inventory_vars, repeat=3):
    """Median CPU seconds of one plan of the whole inventory, in this process (the facts the
    planner reads stubbed as planner.py does).  CPU, as the role's plan step and host_network's
    part reads report theirs: their wall time in 32 busy workers on 2 cores says little."""
    sys.path.insert(0, planner.collections_dir())
    from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import network_plan

    variables = {}
    for host, values in inventory_vars.items():
        facts = planner.uplink_facts(values["crossnet_node_address"], values["crossnet_uplink"])
        variables[host] = dict(values, ansible_facts=facts)
    runs = []
    for dummy in range(repeat):
        start = time.process_time()
        network_plan(variables)
        runs.append(time.process_time() - start)
    return statistics.median(runs)


class Case:
    """One lab, one inventory, its runs."""

    def __init__(self, name, rundir, doc, lab_name, forks, extra_inventory=None, limit=None,
                 extra_vars=None, pipelining=True):
        self.name = name
        self.dir = os.path.join(rundir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.doc = doc
        self.lab = core.Lab(lab_name)
        self.forks = forks
        self.extra_inventory = extra_inventory
        self.limit = limit
        self.extra_vars = dict(extra_vars or {})
        self.pipelining = pipelining
        self.collections = workload.collections_dir(rundir)
        self.result = {"case": name, "forks": forks, "limit": limit, "pipelining": pipelining,
                       "extra_vars": self.extra_vars, "runs": {}}

    def up(self):
        path = os.path.join(self.dir, "topology.yml")
        with open(path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(self.doc, handle, sort_keys=False)
        before = settled_mem_used_mib()
        start = time.monotonic()
        self.lab.up(path)
        up_seconds = time.monotonic() - start
        self.result["lab"] = {"up_seconds": round(up_seconds, 2),
                              "hosts": len(self.doc["hosts"]),
                              "mem_used_mib": round(settled_mem_used_mib() - before, 1),
                              "processes_pss_mib": round(pss_mib(self.lab.processes()), 1)}
        log("%s: lab %s up in %.1f s, %.0f MiB" % (
            self.name, self.lab.name, self.result["lab"]["up_seconds"], self.result["lab"]["mem_used_mib"]))

    def down(self):
        start = time.monotonic()
        self.lab.down()
        if "lab" in self.result:
            self.result["lab"]["down_seconds"] = round(time.monotonic() - start, 2)

    def env(self, events):
        return bench.ansible_env(self.collections, events, self.dir, self.pipelining)

    def run(self, phase, playbook=SITE, extra_vars=None):
        events = os.path.join(self.dir, "events-%s.jsonl" % phase)
        if os.path.exists(events):
            os.remove(events)
        argv = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", self.lab.inventory, "-f", str(self.forks)]
        if self.extra_inventory:
            argv += ["-i", self.extra_inventory]
        if self.limit:
            argv += ["--limit", ",".join(self.limit)]
        # The lab's inventory sets ansible_pipelining per host: only an extra variable wins.
        variables = dict(self.extra_vars, ansible_pipelining=self.pipelining, **(extra_vars or {}))
        argv += ["-e", json.dumps(variables), playbook]
        load = round(os.getloadavg()[0], 2)
        start = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, env=self.env(events), cwd=self.dir, check=False)
        wall = time.monotonic() - start
        with open(os.path.join(self.dir, "ansible-%s.log" % phase), "w", encoding="utf-8") as handle:
            handle.write(proc.stdout + proc.stderr)
        recap = bench.play_recap(proc.stdout)
        wanted = set(self.limit or self.doc["hosts"])
        if proc.returncode != 0 or (set(recap) != wanted and playbook != NO_TASK):
            failed = [line for line in proc.stdout.splitlines() if line.startswith("fatal:")]
            raise FleetBenchError("%s/%s: ansible-playbook exit %d, see %s\n%s" % (
                self.name, phase, proc.returncode, os.path.join(self.dir, "ansible-%s.log" % phase),
                "\n".join(failed)[:2000] or proc.stdout[-2000:]))
        with open(events, encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        results = [r for r in rows if r["event"] == "result"]
        plan_stats = [r["plan_stats"] for r in results if r.get("plan_stats")]
        run = {"wall": round(wall, 3), "load": load, "changed": sum(r.get("changed", 0) for r in recap.values()),
               "tasks_per_host": round(len(results) / max(1, len(recap)), 1),
               "package_step": sorted({r["status"] for r in results if r["task"].endswith("Provide what the host lacks")}),
               "plan_filter_seconds": sum(s["seconds"] for s in plan_stats),
               "plan_part_seconds": round(sum(r["plan_seconds"] or 0 for r in results), 4)}
        self.result["runs"][phase] = run
        log("%s/%s: %.2f s, changed %d" % (self.name, phase, wall, run["changed"]))
        return run

    def measure(self, repeat):
        """converge, then `repeat` times a re-run and the bound in turn, then teardown."""
        self.run("converge")
        reruns, bounds, bare = [], [], []
        for index in range(repeat):
            reruns.append(self.run("rerun-%d" % (index + 1)))
            bounds.append(self.run("bound-%d" % (index + 1), playbook=TWO_TRIPS))
            bare.append(self.run("no-task-%d" % (index + 1), playbook=NO_TASK))
        self.check()
        self.run("teardown", extra_vars={"crossnet_state": "absent"})
        rerun = statistics.median(r["wall"] for r in reruns)
        bound = statistics.median(r["wall"] for r in bounds)
        planning = statistics.median(r["plan_filter_seconds"] for r in reruns)
        reading = statistics.median(r["plan_part_seconds"] for r in reruns)
        self.result.update({
            "converge": self.result["runs"]["converge"]["wall"],
            "rerun": rerun, "rerun_walls": [r["wall"] for r in reruns],
            "rerun_changed": max(r["changed"] for r in reruns),
            "bound": bound, "bound_walls": [r["wall"] for r in bounds],
            "no_task": statistics.median(r["wall"] for r in bare),
            "rerun_over_bound": rerun / bound,
            "planning_per_run": planning, "parts_read": reading,
            "package_step": sorted({s for r in reruns for s in r["package_step"]}),
            "tasks_per_host": reruns[0]["tasks_per_host"],
        })
        log("%s: re-run %.2f s / bound %.2f s = %.2fx" % (self.name, rerun, bound, rerun / bound))

    def check(self):
        """Hook: what must hold on the hosts after the converge."""


class LimitCase(Case):
    """Only --real hosts exist; the others are in the inventory and routed to."""

    def __init__(self, *args, total, **kwargs):
        super().__init__(*args, **kwargs)
        self.total = total

    def check(self):
        for host in self.limit:
            routes = self.lab.run(host, ["ip", "-4", "-o", "route", "show", "proto", "157"], check=True).stdout
            via = [line for line in routes.splitlines() if " via " in line]
            self.result.setdefault("peer_routes", {})[host] = len(via)
            if len(via) != self.total - 1:
                raise FleetBenchError("%s routes to %d peers' blocks, not %d" % (host, len(via), self.total - 1))


def hosts_case(rundir, hosts, containers, lab_name):
    doc = lab_fleet.topology(hosts, containers, outside=False)
    case = Case("hosts%d" % hosts, rundir, doc, lab_name, min(hosts, MAX_FORKS))
    case.result.update(family="hosts", hosts=hosts, containers=containers)
    case.result["one_plan"] = one_plan_seconds({name: spec["vars"] for name, spec in doc["hosts"].items()})
    return case


def limit_case(rundir, total, containers, real, lab_name):
    doc = lab_fleet.topology(real, containers, cidr=True, outside=False)
    others = {"host%d" % h: dict(lab_fleet.host_vars(h, containers, cidr=True), **NOT_CONTACTED)
              for h in range(real + 1, total + 1)}
    path = os.path.join(rundir, "limit-inventory.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"all": {"children": {"crossnet_hosts": {"hosts": others}}}}, handle)
    case = LimitCase("limit%dx%d" % (total, containers), rundir, doc, lab_name, min(real, MAX_FORKS),
                     extra_inventory=path, limit=sorted(doc["hosts"]), total=total)
    case.result.update(family="limit", hosts=total, real_hosts=real, containers=containers)
    every = {name: spec["vars"] for name, spec in doc["hosts"].items()}
    every.update(others)
    case.result["one_plan"] = one_plan_seconds(every)
    return case


def default_path_case(rundir, containers, lab_name):
    doc = lab_fleet.topology(2, containers, outside=False)
    doc["vars"]["crossnet_manage_packages"] = True
    case = Case("default%d" % containers, rundir, doc, lab_name, 2, pipelining=False)
    case.result.update(family="default_path", hosts=2, containers=containers)
    case.result["one_plan"] = one_plan_seconds({name: spec["vars"] for name, spec in doc["hosts"].items()})
    return case


def summarize(results):
    lines = ["# Fleet benchmarks", ""]
    lines += ["Re-run with nothing to change against the two-ping bound (medians; every run in brackets); "
              "target re-run <= %.1fx bound, planning per run <= %.1fx one plan." % (
                  TARGETS["rerun_over_bound"], TARGETS["planning_over_one_plan"]), ""]
    lines += ["| case | hosts (real) | containers/host | forks | lab up s | lab MiB | converge s | re-run s | "
              "bound s | re-run / bound | plan step CPU s | parts read CPU s | one plan CPU s | "
              "plan step / one plan | with the reads |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | ---: | ---: | ---: | --- | ---: |"]
    for r in results:
        if "error" in r:
            lines.append("| %s | %s | %s | | | | | **failed**: %s | | | | | | | |" % (
                r["case"], r.get("hosts"), r.get("containers"), r["error"].splitlines()[0][:200]))
            continue
        ratio = r["rerun_over_bound"]
        planning_ratio = r["planning_per_run"] / r["one_plan"] if r["one_plan"] else float("nan")
        with_reads = (r["planning_per_run"] + r["parts_read"]) / r["one_plan"] if r["one_plan"] else float("nan")
        lines.append("| %s | %s | %d | %d | %.1f | %.0f | %.2f | %.2f (%s) | %.2f (%s) | %.2fx %s | %.3f | %.3f | %.3f "
                     "| %.2fx %s | %.2fx |" % (
                         r["case"], "%d (%d)" % (r["hosts"], r["real_hosts"]) if r.get("real_hosts") else r["hosts"],
                         r["containers"], r["forks"], r["lab"]["up_seconds"], r["lab"]["mem_used_mib"], r["converge"],
                         r["rerun"], ", ".join("%.2f" % w for w in r["rerun_walls"]),
                         r["bound"], ", ".join("%.2f" % w for w in r["bound_walls"]),
                         ratio, "met" if ratio <= TARGETS["rerun_over_bound"] else "**missed**",
                         r["planning_per_run"], r["parts_read"], r["one_plan"], planning_ratio,
                         "met" if planning_ratio <= TARGETS["planning_over_one_plan"] else "**missed**", with_reads))
    lines.append("")
    for r in results:
        if "error" not in r:
            lines.append("- %s: re-run changed=%d; Ansible with no task (inventory, start, end) %.2f s; tasks per "
                         "host %.1f; package step %s; lab down %.1f s, its processes %.0f MiB (PSS)%s" % (
                             r["case"], r["rerun_changed"], r["no_task"], r["tasks_per_host"],
                             "/".join(r["package_step"]) or "-",
                             r["lab"].get("down_seconds", float("nan")), r["lab"]["processes_pss_mib"],
                             "; peer routes %s" % r["peer_routes"] if r.get("peer_routes") else ""))
    return "\n".join(lines) + "\n"


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    rows = sorted((r for r in results if r.get("family") == "hosts" and "error" not in r), key=lambda r: r["hosts"])
    if not rows:
        return None
    hosts = [r["hosts"] for r in rows]
    figure, axes = pyplot.subplots(figsize=(7, 4.5))
    for key, label in (("converge", "first converge"), ("rerun", "re-run (changed=0)"),
                       ("bound", "Ansible alone, two pings per host")):
        axes.plot(hosts, [r[key] for r in rows], marker="o", label=label)
    axes.plot(hosts, [TARGETS["rerun_over_bound"] * r["bound"] for r in rows], linestyle="--",
              label="target: %.1fx the bound" % TARGETS["rerun_over_bound"])
    axes.set_xlabel("hosts (%d containers each; forks = min(hosts, %d))" % (rows[0]["containers"], MAX_FORKS))
    axes.set_ylabel("wall seconds (median)")
    axes.set_xticks(hosts)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", help="host counts, comma-separated (e.g. 2,8,32,64)")
    parser.add_argument("--containers", type=int, default=10, help="per host with --hosts (default 10)")
    parser.add_argument("--limit", nargs="?", const="250x40", metavar="HOSTSxCONTAINERS",
                        help="the --limit inventory (default 250x40)")
    parser.add_argument("--real", type=int, default=2, help="lab hosts in the --limit case (default 2)")
    parser.add_argument("--default-path", nargs="?", const=200, type=int, metavar="N",
                        help="2 hosts x N containers with the role's defaults (default N=200)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lab", default=os.environ.get("XF_LAB", "xfleet"))
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    if not (args.hosts or args.limit or args.default_path):
        parser.error("give --hosts, --limit and/or --default-path")
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces)")
    rundir = os.path.join(os.path.abspath(args.out), time.strftime("%Y%m%d-%H%M%S") + "-fleet")
    os.makedirs(rundir)
    log("results in %s" % rundir)
    makers = []
    for hosts in [int(h) for h in (args.hosts or "").split(",") if h]:
        makers.append(lambda hosts=hosts: hosts_case(rundir, hosts, args.containers, args.lab))
    if args.limit:
        total, containers = (int(x) for x in args.limit.split("x"))
        makers.append(lambda: limit_case(rundir, total, containers, args.real, args.lab))
    if args.default_path:
        makers.append(lambda: default_path_case(rundir, args.default_path, args.lab))
    results, failed = [], 0
    for make in makers:
        case = make()
        try:
            case.up()
            case.measure(max(1, args.repeat))
        except (FleetBenchError, core.LabError, subprocess.SubprocessError) as exc:
            log("%s failed: %s" % (case.name, exc))
            case.result["error"] = str(exc)
            failed += 1
        finally:
            case.down()
        results.append(case.result)
        with open(os.path.join(rundir, "results.json"), "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)
    summary = summarize(results)
    with open(os.path.join(rundir, "summary.md"), "w", encoding="utf-8") as handle:
        handle.write(summary)
    picture = plot(results, os.path.join(rundir, "time_vs_hosts.png"))
    print(summary)
    if picture:
        print("plot: %s" % picture)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
