# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Markdown tables and the time-vs-N plot of benchmark results (bench.py's results.json).

    python benchmarks/report.py benchmarks/results/latest/results.json
"""

from __future__ import annotations

import json
import sys

ROWS = (
    ("floor", "floor (ip -batch, iptables-restore)"),
    ("converge", "first converge"),
    ("rerun", "idempotent re-run"),
    ("ansible_floor", "Ansible alone (one ping per host, same inventory)"),
    ("ansible_two_trips", "Ansible alone, two pings per host (the role's two remote steps)"),
    ("add_one", "+1 container (host1)"),
    ("remove_one", "-1 container (host1)"),
    ("teardown", "teardown (crossnet_state=absent)"),
    ("floor_teardown", "floor teardown"),
)
TARGETS_AT = 1000
OVERLAY_RATIO = 0.85  # container->container through the overlay / host->host through the router


def _ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "-"


def peak_rss_mib(phase):
    runs = [r for runs in phase.get("modules", {}).values() for r in runs]
    if not runs:
        return None
    return max(r["maxrss_kib"] for r in runs) / 1024.0


def module_seconds(phase):
    """Per host: the sum of the module processes' wall time; the max over hosts."""
    per_host = [sum(r["wall"] for r in runs) for runs in phase.get("modules", {}).values()]
    return max(per_host) if per_host else None


def tasks_text(phase, host):
    """Tasks that ran on ``host``, with how many of them were skipped (e.g. ``12 (4)``)."""
    skipped = phase.get("tasks_skipped", {}).get(host)
    return "%d%s" % (phase["tasks"][host], "" if skipped is None else " (%d)" % skipped)


def table(result):
    phases = result.get("phases", {})
    floor = phases.get("floor", {}).get("wall")
    converge = phases.get("converge", {}).get("wall")
    floor_cpu = phases.get("floor", {}).get("cpu")
    converge_cpu = phases.get("converge", {}).get("cpu")
    lines = [
        "| N=%d per host | wall s | / floor | / converge | CPU s | CPU / floor | CPU / converge | load1 "
        "| changed (h1,h2) | tasks/host (skipped) | module s/host | peak module RSS MiB |" % result["n"],
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |",
    ]
    for key, label in ROWS:
        phase = phases.get(key)
        if phase is None:
            continue
        wall = phase["wall"]
        recap = phase.get("recap", {})
        changed = ",".join(str(recap[h]["changed"]) for h in sorted(recap)) or "-"
        tasks = ",".join(tasks_text(phase, h) for h in sorted(phase.get("tasks", {}))) or "-"
        rss = peak_rss_mib(phase)
        mod = module_seconds(phase)
        cpu = phase.get("cpu")
        if len(phase.get("walls", [])) > 1:
            label += " (median of %d: %s s)" % (len(phase["walls"]), ", ".join("%.2f" % w for w in phase["walls"]))
        if phase.get("error"):
            label += " **FAILED**"
        lines.append("| %s | %.2f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            label, wall, _ratio(wall, floor), _ratio(wall, converge),
            "%.2f" % cpu if cpu is not None else "-", _ratio(cpu, floor_cpu), _ratio(cpu, converge_cpu),
            phase.get("load", "-"), changed, tasks,
            "%.2f" % mod if mod is not None else "-", "%.1f" % rss if rss is not None else "-"))
    return "\n".join(lines)


def targets(result):
    p = result.get("phases", {})
    wall = {k: v["wall"] for k, v in p.items()}
    cpu = {k: v.get("cpu") for k, v in p.items()}
    if not {"floor", "converge", "rerun", "add_one"} <= set(wall):
        return ""
    rss = max((peak_rss_mib(v) or 0) for v in p.values())

    def both(a, b, limit):
        text = "wall %.2fx" % (wall[a] / wall[b])
        ok = wall[a] <= limit * wall[b]
        if cpu.get(a) and cpu.get(b):
            text += ", CPU %.2fx" % (cpu[a] / cpu[b])
        return text, ok

    rows = [("first converge <= 1.5x floor",) + both("converge", "floor", 1.5)]
    text, ok = both("rerun", "converge", 0.3)
    rows.append(("re-run <= 0.3x first converge, changed=0",
                 "%s, changed=%s (the target: %.2f s)" % (text, result.get("rerun_changed", "?"), 0.3 * wall["converge"]),
                 ok and result.get("rerun_changed") == 0))
    for key, label in (("ansible_floor", "(bound: the re-run target is reachable only if this is) Ansible alone, "
                                         "one ping per host"),
                       ("ansible_two_trips", "(bound, likewise) Ansible alone, two pings per host: the role's "
                                             "preflight, then its apply")):
        if key in wall:
            rows.append((label, "wall %.2f s = %.2fx first converge" % (wall[key], wall[key] / wall["converge"]),
                         wall[key] <= 0.3 * wall["converge"]))
    rows.append(("+1 container <= 1.1x re-run",) + both("add_one", "rerun", 1.1))
    rows.append(("peak module memory < 200 MiB", "%.1f MiB" % rss, rss < 200))
    data = result.get("dataplane") or {}
    if result.get("encapsulation", "none") != "none" and "ratio" in data:
        rows.append(("container->container through the overlay >= %.2fx host->host through the router "
                     "(iperf3, medians)" % OVERLAY_RATIO, "%.2fx" % data["ratio"], data["ratio"] >= OVERLAY_RATIO))
    scope = "N=%d" % result["n"] if result["n"] == TARGETS_AT else "set for N=%d, measured at N=%d" % (TARGETS_AT, result["n"])
    lines = ["| target (%s) | measured | met (wall) |" % scope, "| --- | --- | --- |"]
    lines += ["| %s | %s | %s |" % (name, value, "yes" if ok else "**no**") for name, value, ok in rows]
    return "\n".join(lines)


def markdown(results):
    out = ["# crossnet.routed benchmark", ""]
    for result in results:
        overlay = result.get("encapsulation", "none") != "none"
        out.append("## N = %d containers per host (2 hosts%s, managed python: %s, %s inventory%s)" % (
            result["n"], ", two subnets and a router, crossnet_encapsulation %s" % result["encapsulation"]
            if overlay else "", result.get("python"), result.get("inventory_format", "yaml").upper(),
            ", per-host crossnet_container_cidr" if result.get("cidr") else ""))
        out.append("")
        if result.get("error"):
            out += ["**failed:** `%s`" % result["error"].replace("\n", " ")[:1500], ""]
        if result.get("phases"):
            out += [table(result), ""]
        if "census_equal" in result:
            out.append("End state of the collection equals the floor's (counts of namespaces, veths, "
                       "addresses, routes, neighbours, sysctls, iptables rules): **%s**"
                       % ("yes" if result["census_equal"] else "NO"))
            out.append("")
        data = result.get("dataplane")
        if data and "ratio" in data:
            runs = len(data.get("host_to_host_runs", [None]))
            out.append("Data plane (iperf3 TCP, host1 -> host2%s%s): container->container %.2f Gbit/s, "
                       "host->host %.2f Gbit/s, ratio **%.2f**" % (
                           ", medians of %d alternating runs" % runs if runs > 1 else "",
                           "; containers through the overlay, hosts through the router" if overlay else "",
                           data["container_to_container_bps"] / 1e9, data["host_to_host_bps"] / 1e9, data["ratio"]))
            out.append("")
        elif data:
            out += ["Data plane: %s" % data.get("error"), ""]
        tgt = targets(result)
        if tgt:
            out += [tgt, ""]
    sizes = [r for r in results if r.get("phases", {}).get("converge")]
    if len(sizes) > 1:
        out.append("## Tasks per host across N")
        out.append("")
        for r in sizes:
            out.append("- N=%d: %s" % (r["n"], ", ".join(
                "%s %s" % (k, "/".join(tasks_text(v, h) for h in sorted(v["tasks"])))
                for k, v in r["phases"].items() if v.get("tasks"))))
        out.append("")
    return "\n".join(out)


def plot(results, path):
    points = [r for r in results if r.get("phases", {}).get("floor")]
    if not points:
        return None
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(7, 4.5))
    for key, label, style in (("floor", "floor", "-"), ("converge", "first converge", "-"), ("rerun", "re-run", "-"),
                              ("add_one", "+1 container", "-"),
                              ("ansible_two_trips", "Ansible alone, two pings per host", "--"),
                              ("ansible_floor", "Ansible alone, one ping per host", ":")):
        xs = [r["n"] for r in points if key in r["phases"]]
        ys = [r["phases"][key]["wall"] for r in points if key in r["phases"]]
        if xs:
            axes.plot(xs, ys, marker="o", linestyle=style, label=label)
    converged = [r for r in points if "converge" in r["phases"]]
    if converged:
        axes.plot([r["n"] for r in converged], [0.3 * r["phases"]["converge"]["wall"] for r in converged],
                  color="grey", linestyle="-.", label="re-run target (0.3x first converge)")
    axes.set_xlabel("containers per host (2 hosts)")
    axes.set_ylabel("wall seconds")
    axes.set_title("crossnet.routed: time against N")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        data = json.load(handle)
    print(markdown(data))
