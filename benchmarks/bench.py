# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge at scale against the kernel floor.  Needs root; run through benchmarks/run.sh.

For each N: a lab of 2 hosts (host1, host2) on one segment, N containers per host (with
--encapsulation vxlan: on two subnets joined by a router, containers reaching each other only
through the VXLAN overlay).
  1. floor: the plan written directly on both hosts in parallel (benchmarks/floor.py), its end
     state counted, then torn down again;
  2. the collection (playbooks/site.yml): first converge, re-run (changed must be 0), +1 and -1
     container on host1, data plane (iperf3), teardown (crossnet_state=absent).
The end state of the floor and of the collection are compared by counts (floor.py census).
Results: benchmarks/results/<stamp>/ (results.json, summary.md, time_vs_n.png).
Ratios are measured in the same run; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
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

from floor import vxlan_config  # noqa: E402
import report  # noqa: E402
import workload  # noqa: E402

VENV_BIN = os.path.join(REPO, ".venv", "bin")
PYTHONS = {"venv": os.path.join(VENV_BIN, "python"), "system": "/usr/bin/python3"}
PY_SPY = os.path.join(VENV_BIN, "py-spy")
SPY_RATE = 200  # samples per second (profiles.py converts samples back to seconds)
FLOOR = os.path.join(HERE, "floor.py")
SITE = os.path.join(REPO, "playbooks", "site.yml")
ANSIBLE_FLOOR = os.path.join(HERE, "ansible_floor.yml")
ANSIBLE_TWO_TRIPS = os.path.join(HERE, "ansible_two_trips.yml")
LAB = "xbench"
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+"
                   r"skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)", re.M)


class BenchError(RuntimeError):
    pass


def log(message):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def play_recap(stdout):
    """``{host: {ok, changed, unreachable, failed, skipped, rescued, ignored}}`` of a run's recap."""
    return {m.group(1): dict(zip(("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored"),
                                 map(int, m.groups()[1:])))
            for m in RECAP.finditer(stdout)}


def ansible_env(collections, events, workdir, pipelining=True):
    """The environment of a benchmarked ansible-playbook run: this venv, the collection under
    test, the xb_timing callback writing to ``events``, Ansible's files under ``workdir``."""
    env = dict(os.environ)
    env.pop("ANSIBLE_CONFIG", None)
    env.update({
        "PATH": VENV_BIN + os.pathsep + env.get("PATH", ""),
        "ANSIBLE_COLLECTIONS_PATH": collections,
        "ANSIBLE_CALLBACK_PLUGINS": os.path.join(HERE, "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "xb_timing",
        "XB_EVENTS_FILE": events,
        "ANSIBLE_PIPELINING": "1" if pipelining else "0",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_LOCAL_TEMP": os.path.join(workdir, "ansible-tmp"),
        "ANSIBLE_HOME": os.path.join(workdir, "ansible-home"),
    })
    return env


def children_cpu():
    """CPU seconds of every finished (waited-for) descendant of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load():
    return round(os.getloadavg()[0], 2)


class Bench:
    def __init__(self, n, rundir, python, cidr, profile, iperf_seconds, lab=LAB, inventory_format="yaml",
                 repeat=3, encapsulation="none"):
        self.n = n
        self.dir = os.path.join(rundir, "n%d" % n)
        os.makedirs(self.dir, exist_ok=True)
        self.python = python
        self.cidr = cidr
        self.profile = profile
        self.iperf_seconds = iperf_seconds
        self.lab = core.Lab(lab)
        self.collections = workload.collections_dir(rundir)
        self.hosts = [name for name, dummy in workload.HOSTS]
        self.inventory_format = inventory_format
        self.repeat = repeat
        self.encapsulation = encapsulation
        self.result = {"n": n, "python": python, "cidr": cidr, "inventory_format": inventory_format,
                       "encapsulation": encapsulation, "phases": {}}
        self.servers = []

    # -- lab ---------------------------------------------------------------------------------
    def interpreter(self):
        """A shell script the hosts use as their Python: the real one under rsswrap.py."""
        path = os.path.join(self.dir, "python-rss")
        argv = ["/usr/bin/python3", "-I", "-S", os.path.join(HERE, "rsswrap.py"),
                "--python", PYTHONS[self.python], "--log", os.path.join(self.dir, "modules-$(hostname).jsonl")]
        if self.profile == "modules":
            argv += ["--profile", os.path.join(self.dir, "profile-$(hostname)")]
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("#!/bin/sh\nexec %s -- \"$@\"\n" % " ".join(argv))
        os.chmod(path, 0o755)
        return path

    def up(self):
        doc = workload.topology({h: 0 for h in self.hosts}, python=self.interpreter(), cidr=False,
                                encapsulation=self.encapsulation)
        for host in doc["hosts"].values():
            host["vars"] = {}  # the workload comes in through its own inventory (overrides)
        path = os.path.join(self.dir, self.lab.name + ".yml")
        with open(path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(doc, handle, sort_keys=False)
        start = time.monotonic()
        self.lab.up(path)
        log("lab %s up in %.1f s" % (self.lab.name, time.monotonic() - start))

    def down(self):
        for server in self.servers:
            if server.poll() is None:
                server.terminate()  # `timeout` passes SIGTERM on to iperf3
            server.wait()
        self.servers = []
        self.lab.down()

    def on_hosts(self, argv_of, **kwargs):
        """Run argv_of(host) on every host in parallel; returns ({host: proc}, wall seconds)."""
        argvs = {host: self.lab.argv(host, argv_of(host)) for host in self.hosts}
        self.last_cpu = children_cpu()
        self.last_load = load()
        start = time.monotonic()
        procs = {host: subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env=self.lab.env(), **kwargs)
                 for host, argv in argvs.items()}
        outputs = {host: proc.communicate() + (proc.returncode,) for host, proc in procs.items()}
        wall = time.monotonic() - start
        self.last_cpu = children_cpu() - self.last_cpu
        for host, (out, err, rc) in outputs.items():
            if rc != 0:
                raise BenchError("%s on %s: exit %d: %s" % (" ".join(argvs[host]), host, rc, err.strip()))
        return {host: out for host, (out, err, rc) in outputs.items()}, wall

    def census(self):
        out, dummy = self.on_hosts(lambda host: ["/usr/bin/python3", FLOOR, "census"])
        return {host: json.loads(text) for host, text in out.items()}

    def wait_census(self, want, what, timeout=60):
        """Poll until the census equals ``want`` (namespace removal is asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.census()
            if got == want:
                return got
            if time.monotonic() > deadline:
                raise BenchError("%s: state differs:\n%s" % (what, census_diff(want, got)))
            time.sleep(1)

    # -- floor -------------------------------------------------------------------------------
    def plans(self, counts):
        return workload.plans(counts, self.cidr, self.collections, self.encapsulation)

    def floor(self, counts):
        plans = self.plans(counts)
        for host, plan in plans.items():
            with open(os.path.join(self.dir, "plan-%s.json" % host), "w", encoding="utf-8") as handle:
                json.dump(plan, handle)
        dummy, wall = self.on_hosts(lambda host: ["/usr/bin/python3", FLOOR, "apply",
                                                  os.path.join(self.dir, "plan-%s.json" % host)])
        self.result["phases"]["floor"] = {"wall": wall, "cpu": self.last_cpu, "load": self.last_load}
        log("floor apply: %.2f s" % wall)
        state = self.census()
        dummy, wall = self.on_hosts(lambda host: ["/usr/bin/python3", FLOOR, "teardown",
                                                  os.path.join(self.dir, "plan-%s.json" % host)])
        self.result["phases"]["floor_teardown"] = {"wall": wall, "cpu": self.last_cpu, "load": self.last_load}
        log("floor teardown: %.2f s" % wall)
        return state

    # -- the collection ----------------------------------------------------------------------
    def overrides(self, counts, tag, extra=None):
        variables = workload.host_vars(counts, self.cidr, self.encapsulation)
        for host in variables:
            variables[host].update(extra or {})
        doc = {"all": {"children": {"crossnet_hosts": {"hosts": variables}}}}
        # Ansible parses a JSON inventory file several times faster than the same in YAML.
        path = os.path.join(self.dir, "workload-%s.%s" % (tag, "json" if self.inventory_format == "json" else "yml"))
        with open(path, "w", encoding="utf-8") as handle:
            if self.inventory_format == "json":
                json.dump(doc, handle)
            else:
                yaml.safe_dump(doc, handle)
        return path

    def env(self, events):
        return ansible_env(self.collections, events, self.dir)

    def playbook(self, phase, counts, extra_vars=None, playbook=SITE):
        events = os.path.join(self.dir, "events-%s.jsonl" % phase)
        if os.path.exists(events):  # the callback appends: a phase run again starts afresh
            os.remove(events)
        argv = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", self.lab.inventory,
                "-i", self.overrides(counts, phase)]
        if extra_vars:
            argv += ["-e", json.dumps(extra_vars)]
        argv.append(playbook)
        marks = {host: self.module_log_length(host) for host in self.hosts}
        cpu, before_load = children_cpu(), load()
        start = time.monotonic()
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=self.env(events), cwd=self.dir) as proc:
            spy = self.spy(proc.pid, phase) if self.profile == "controller" else None
            stdout, stderr = proc.communicate()
        wall = time.monotonic() - start
        if spy is not None:  # (it would keep sampling ssh's ControlPersist masters, a minute)
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        cpu = children_cpu() - cpu
        with open(os.path.join(self.dir, "ansible-%s.log" % phase), "w", encoding="utf-8") as handle:
            handle.write(stdout + stderr)
        self.file_profiles(phase)
        recap = play_recap(stdout)
        phase_result = {"wall": wall, "controller_cpu": cpu, "load": before_load, "recap": recap}
        self.result["phases"][phase] = phase_result
        if proc.returncode != 0 or set(recap) != set(self.hosts):
            failed = [line for line in stdout.splitlines() if line.startswith("fatal:")]
            phase_result["error"] = "exit %d: %s" % (proc.returncode, " | ".join(failed)[:1500])
            raise BenchError("%s: ansible-playbook exit %d, see %s\n%s" % (
                phase, proc.returncode, os.path.join(self.dir, "ansible-%s.log" % phase),
                "\n".join(failed)[:3000] or stdout[-3000:]))
        phase_result.update(task_summary(events, self.hosts))
        phase_result["modules"] = {host: self.module_runs(host, marks[host]) for host in self.hosts}
        phase_result["cpu"] = cpu + sum(r["utime"] + r["stime"] for runs in phase_result["modules"].values()
                                        for r in runs)
        log("%s: %.2f s, changed %s" % (phase, wall, {h: r["changed"] for h, r in recap.items()}))
        return phase_result

    def spy(self, pid, phase):
        """py-spy sampling ansible-playbook ``pid`` and its workers (forks: action plugins and
        templating run there, out of reach of a cProfile of the main process)."""
        return subprocess.Popen([PY_SPY, "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
                                 "--rate", str(SPY_RATE), "--format", "raw",
                                 "--output", os.path.join(self.dir, "controller-%s.txt" % phase)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def file_profiles(self, phase):
        """Move this phase's module profiles into profile-<host>/<phase>/."""
        for host in self.hosts:
            folder = os.path.join(self.dir, "profile-%s" % host)
            if not os.path.isdir(folder):
                continue
            os.makedirs(os.path.join(folder, phase), exist_ok=True)
            for name in os.listdir(folder):
                if name.endswith(".prof"):
                    os.replace(os.path.join(folder, name), os.path.join(folder, phase, name))

    def module_log(self, host):
        return os.path.join(self.dir, "modules-%s.jsonl" % host)

    def module_log_length(self, host):
        try:
            with open(self.module_log(host), encoding="utf-8") as handle:
                return len(handle.readlines())
        except FileNotFoundError:
            return 0

    def module_runs(self, host, skip):
        try:
            with open(self.module_log(host), encoding="utf-8") as handle:
                return [json.loads(line) for line in handle.readlines()[skip:]]
        except FileNotFoundError:
            return []

    def collection(self, floor_state, baseline):
        """Every phase runs even when an earlier one failed (its error is recorded), so that one
        broken step still leaves the others measured and the teardown always runs."""
        n = {h: self.n for h in self.hosts}
        errors = self.result.setdefault("errors", [])
        if self.attempt(errors, "converge", n):
            state = self.census()
            self.result["census"] = {"floor": floor_state, "collection": state}
            self.result["census_equal"] = state == floor_state
            if state != floor_state:
                log("end state differs from the floor's:\n" + census_diff(floor_state, state))
        rerun = self.repeated(errors, [("rerun", n)])
        if rerun:
            self.result["rerun_changed"] = rerun["rerun"]["changed_any"]
        self.repeated(errors, [("ansible_floor", n)], playbook=ANSIBLE_FLOOR)
        self.repeated(errors, [("ansible_two_trips", n)], playbook=ANSIBLE_TWO_TRIPS)
        self.repeated(errors, [("add_one", dict(n, host1=self.n + 1)), ("remove_one", n)])
        try:
            self.result["dataplane"] = self.dataplane()
        except (BenchError, subprocess.SubprocessError, KeyError, ValueError) as exc:
            self.result["dataplane"] = {"error": str(exc)}
            log("data plane: %s" % exc)
        self.attempt(errors, "teardown", n, {"crossnet_state": "absent"})
        self.wait_census(baseline, "after teardown")
        if errors:
            raise BenchError("; ".join(errors))

    def repeated(self, errors, steps, playbook=SITE):
        """Run ``steps`` (``[(phase, counts)]``, which together leave the hosts as they were)
        ``self.repeat`` times in turn.  Each phase's result is its run of median wall time, with
        every run's wall time in ``walls``; returns {phase: result}, or None when a run failed."""
        runs = {phase: [] for phase, dummy in steps}
        for index in range(self.repeat):
            for phase, counts in steps:
                name = phase if index == 0 else "%s-%d" % (phase, index + 1)
                if self.attempt(errors, name, counts, playbook=playbook) is None:
                    return None
                runs[phase].append(self.result["phases"].pop(name))
        for phase, phase_runs in runs.items():
            chosen = sorted(phase_runs, key=lambda run: run["wall"])[(len(phase_runs) - 1) // 2]
            chosen["walls"] = [run["wall"] for run in phase_runs]
            chosen["changed_any"] = max(sum(r["changed"] for r in run["recap"].values()) for run in phase_runs)
            self.result["phases"][phase] = chosen
        return {phase: self.result["phases"][phase] for phase in runs}

    def attempt(self, errors, phase, counts, extra_vars=None, playbook=SITE):
        try:
            return self.playbook(phase, counts, extra_vars, playbook)
        except BenchError as exc:
            log("%s failed: %s" % (phase, str(exc)[:3000]))
            errors.append(str(exc)[:1500])
            return None

    # -- data plane --------------------------------------------------------------------------
    def iperf(self, server_host, server_netns, client_host, client_netns, address):
        lifetime = self.iperf_seconds + 30
        server = subprocess.Popen(self.lab.argv(server_host, ["timeout", str(lifetime), "iperf3", "-s", "-1"], server_netns),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.lab.env())
        self.servers.append(server)
        client = self.lab.argv(client_host, ["iperf3", "-c", address, "-t", str(self.iperf_seconds), "-J"], client_netns)
        listening = self.lab.argv(server_host, ["ss", "-Hltn", "sport", "=", ":5201"], server_netns)
        deadline = time.monotonic() + 10
        while not subprocess.run(listening, capture_output=True, text=True, env=self.lab.env(), check=False).stdout.strip():
            if time.monotonic() > deadline or server.poll() is not None:
                raise BenchError("iperf3 server in %s/%s did not start" % (server_host, server_netns))
            time.sleep(0.1)
        proc = subprocess.run(client, capture_output=True, text=True, env=self.lab.env(),
                              timeout=self.iperf_seconds + 20, check=False)
        # The server (-1) exits after one test; it is bounded by `timeout` and killed at teardown.
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.terminate()  # `timeout` passes SIGTERM on to iperf3
            server.wait()
        try:
            return json.loads(proc.stdout)["end"]["sum_received"]["bits_per_second"]
        except (ValueError, KeyError):
            raise BenchError("iperf3 %s -> %s: exit %d: %s" % (
                client_host, address, proc.returncode, (proc.stdout + proc.stderr).strip()[-800:])) from None

    def dataplane(self):
        """``self.repeat`` rounds, container->container then host->host in each, so that both
        see the same moments of a noisy machine; the ratio is that of the medians.  With an
        overlay, container->container goes through it and host->host (node address to node
        address) through the router."""
        first = workload.containers(1, 1)[0]["name"]
        target = workload.containers(2, 1)[0]
        c2c, h2h = [], []
        for dummy in range(self.repeat):
            c2c.append(self.iperf("host2", target["name"], "host1", first, target["addresses"][0]))
            h2h.append(self.iperf("host2", None, "host1", None, workload.node_address("host2", self.encapsulation)))
        c2c_median, h2h_median = statistics.median(c2c), statistics.median(h2h)
        log("data plane: container->container %s Gbit/s, host->host %s Gbit/s" % (
            ", ".join("%.2f" % (b / 1e9) for b in c2c), ", ".join("%.2f" % (b / 1e9) for b in h2h)))
        return {"container_to_container_bps": c2c_median, "host_to_host_bps": h2h_median,
                "ratio": c2c_median / h2h_median, "container_to_container_runs": c2c, "host_to_host_runs": h2h}

    # -- all of it ---------------------------------------------------------------------------
    def run(self):
        self.up()
        try:
            baseline = self.census()
            floor_state = self.floor({h: self.n for h in self.hosts})
            expected = expected_census(self.plans({h: self.n for h in self.hosts}))
            for host in self.hosts:
                wrong = {k: (v, floor_state[host].get(k)) for k, v in expected[host].items() if floor_state[host].get(k) != v}
                if wrong:
                    raise BenchError("floor on %s: (want, got) %s" % (host, wrong))
            self.wait_census(baseline, "after the floor's teardown")
            self.collection(floor_state, baseline)
        finally:
            self.down()
        return self.result


def expected_census(plans):
    """What the census must count after the plan is applied (independent of how)."""
    result = {}
    for host, plan in plans.items():
        rules = (len(plan["masquerade"]["exclude"]) + len(plan["masquerade"]["sources"]) + 1
                 + 2 * len(plan["forwarding"]["container_networks"]) + 1)
        result[host] = {
            "netns": len(plan["namespaces"]),
            "host_veths": len(plan["veth_pairs"]),
            "host_veths_up": len(plan["veth_pairs"]),
            "host_routes_proto157": sum(1 for r in plan["routes"] if not r.get("netns")),
            "netns_routes": (sum(1 for r in plan["routes"] if r.get("netns"))
                             + sum(2 for p in plan["veth_pairs"] if p.get("gateway"))),
            "netns_addresses": sum(len(p["addresses"]) for p in plan["veth_pairs"]),
            "netns_permanent_neigh": sum(1 for p in plan["veth_pairs"] if p.get("gateway")),
            "proxy_arp_on": len(plan["proxy_arp_interfaces"]),
            "proxy_delay_0": len(plan["proxy_arp_interfaces"]),
            "ip_forward": "1",
            "iptables_crossnet_rules": rules,
        }
        tunnels = [plan["vxlan"]] if plan.get("vxlan") else []
        peers = sum(len(tunnel["peers"]) for tunnel in tunnels)
        result[host].update(vxlan_devices=len(tunnels), vxlan_up=len(tunnels), vxlan_permanent_neigh=peers,
                            vxlan_config=sorted(vxlan_config(tunnel) for tunnel in tunnels),
                            vxlan_fdb=peers, vxlan_addresses=sum(1 for tunnel in tunnels if tunnel.get("address")))
    return result


def census_diff(want, got):
    lines = []
    for host in sorted(set(want) | set(got)):
        for key in sorted(set(want.get(host, {})) | set(got.get(host, {}))):
            a, b = want.get(host, {}).get(key), got.get(host, {}).get(key)
            if a != b:
                lines.append("  %s %s: want %s, got %s" % (host, key, a, b))
    return "\n".join(lines)


def task_summary(events, hosts):
    """Tasks per host and controller-side task durations, from the xb_timing callback."""
    with open(events, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    results = [r for r in rows if r["event"] == "result"]
    tasks = {host: sum(1 for r in results if r["host"] == host) for host in hosts}
    skipped = {host: sum(1 for r in results if r["host"] == host and r["status"] == "skipped") for host in hosts}
    durations = {}
    for r in results:
        durations.setdefault(r["task"], {})[r["host"]] = round(r["end"] - r["start"], 3)
    recap = next((r["recap"] for r in rows if r["event"] == "recap"), {})
    return {"tasks": tasks, "tasks_skipped": skipped, "task_seconds": durations, "callback_recap": recap}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50", help="containers per host, comma-separated (e.g. 50,200,1000)")
    parser.add_argument("--python", choices=sorted(PYTHONS), default="venv",
                        help="managed Python on the hosts: venv (PyPI pyroute2) or system (Debian's)")
    parser.add_argument("--cidr", action="store_true", help="give each host a crossnet_container_cidr")
    parser.add_argument("--profile", choices=["modules", "controller"],
                        help="cProfile the modules (on the hosts), or sample ansible-playbook and its "
                             "workers with py-spy (controller)")
    parser.add_argument("--inventory-format", choices=["yaml", "json"], default="yaml",
                        help="format of the generated inventory of the containers (default yaml)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the re-run, of Ansible alone and of +1/-1 container; their median is "
                             "reported (default 3)")
    parser.add_argument("--encapsulation", choices=workload.ENCAPSULATIONS, default="none",
                        help="none: the hosts on one segment; vxlan: on two subnets joined by a router, "
                             "crossnet_encapsulation vxlan (default none)")
    parser.add_argument("--iperf-seconds", type=int, default=5)
    parser.add_argument("--lab", default=os.environ.get("XB_LAB", LAB), help="lab name (default xbench)")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces)")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rundir = os.path.join(os.path.abspath(args.out), time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(rundir)
    log("results in %s" % rundir)
    results, failures = [], []
    for n in sizes:
        log("N=%d containers per host" % n)
        bench = Bench(n, rundir, args.python, args.cidr, args.profile, args.iperf_seconds, args.lab,
                      args.inventory_format, max(1, args.repeat), args.encapsulation)
        try:
            results.append(bench.run())
        except (BenchError, core.LabError, subprocess.SubprocessError) as exc:
            log("N=%d failed: %s" % (n, exc))
            bench.result["error"] = str(exc)
            results.append(bench.result)
            failures.append(n)
        with open(os.path.join(rundir, "results.json"), "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)
    summary = report.markdown(results)
    with open(os.path.join(rundir, "summary.md"), "w", encoding="utf-8") as handle:
        handle.write(summary)
    plot = report.plot(results, os.path.join(rundir, "time_vs_n.png"))
    latest = os.path.join(os.path.abspath(args.out), "latest")
    if os.path.islink(latest) or not os.path.exists(latest):
        if os.path.islink(latest):
            os.unlink(latest)
        os.symlink(rundir, latest)
    print(summary)
    if plot:
        print("plot: %s" % plot)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
