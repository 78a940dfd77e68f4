# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time netns / veth_pair / host_route at N containers inside a sandbox (no Ansible).

Each module runs once per step as its own process (``python -m <module> args.json``, what
AnsiballZ does minus the zip), inside a fresh sandbox; wall and CPU seconds come from wait4().

    python tests/integration/measure_scale.py --sizes 200,1000 --python venv
    python tests/integration/measure_scale.py --sizes 200 --python system --repo /path/to/other/checkout

``--container-routes`` also hands the container-side routes to host_route (the way the role
did before veth_pair installed them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sandbox import REPO, SYSTEM_PYTHON, VENV_PYTHON, Sandbox  # noqa: E402

GATEWAY = "169.254.1.1"


def plan(n, container_routes):
    names = ["c%d" % i for i in range(n)]
    pairs = [{"netns": name, "host_ifname": "h%d" % i, "addresses": ["10.8.%d.%d" % (i // 250, i % 250 + 1)],
              "gateway": GATEWAY} for i, name in enumerate(names)]
    routes = [{"dest": p["addresses"][0], "dev": p["host_ifname"]} for p in pairs]
    if container_routes:
        for name in names:
            routes.append({"netns": name, "dest": GATEWAY + "/32", "dev": "eth0", "scope": "link"})
            routes.append({"netns": name, "dest": "0.0.0.0/0", "gateway": GATEWAY, "dev": "eth0"})
    return names, pairs, routes


def steps(n, container_routes):
    names, pairs, routes = plan(n, container_routes)
    converge = [("netns", {"names": names, "purge": True}),
                ("veth_pair", {"pairs": pairs, "purge": True}),
                ("host_route", {"routes": [r for r in routes if not r.get("netns")] if not container_routes
                                else routes, "purge": True})]
    teardown = [("netns", {"names": [], "purge": True}),
                ("veth_pair", {"pairs": [], "purge": True}),
                ("host_route", {"routes": [], "purge": True})]
    return [("converge", converge), ("re-run", converge), ("teardown", teardown)]


def module_lib(workdir, repo):
    """A PYTHONPATH with the collection and ansible's module_utils (and nothing else of the venv)."""
    lib = os.path.join(workdir, "lib")
    os.makedirs(os.path.join(lib, "ansible_collections", "crossnet"), exist_ok=True)
    os.symlink(repo, os.path.join(lib, "ansible_collections", "crossnet", "routed"))
    ansible = subprocess.run([VENV_PYTHON, "-c", "import ansible, os; print(os.path.dirname(ansible.__file__))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    os.symlink(ansible, os.path.join(lib, "ansible"))
    return lib


def run_module(box, lib, name, args):
    path = os.path.join(box.workdir, "args.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    argv = ["nsenter", "-t", str(box.pid), "-n", "-m", "--", box.python, "-m",
            "ansible_collections.crossnet.routed.plugins.modules." + name, path]
    env = dict(os.environ, PYTHONPATH=lib)
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = proc.communicate()
    wall = time.monotonic() - start
    usage = proc.rusage if hasattr(proc, "rusage") else None
    cpu = usage.ru_utime + usage.ru_stime if usage else float("nan")
    try:
        result = json.loads(out.decode())
    except ValueError:
        raise RuntimeError("%s: no JSON result\n%s\n%s" % (name, out.decode()[-2000:], err.decode()[-2000:])) from None
    if result.get("failed"):
        raise RuntimeError("%s failed: %s" % (name, result.get("msg")))
    return wall, cpu, result.get("changed")


class _Popen(subprocess.Popen):
    """Popen that keeps the child's rusage (wait4)."""

    rusage = None

    def _try_wait(self, wait_flags):
        try:
            pid, status, self.rusage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            pid, status = self.pid, 0
        return pid, status


subprocess.Popen = _Popen  # only this script's processes


def measure(python, n, repo, container_routes):
    rows = []
    with tempfile.TemporaryDirectory(prefix="crossnet-scale-") as workdir:
        lib = module_lib(workdir, repo)
        with Sandbox(python, workdir=workdir) as box:
            for phase, calls in steps(n, container_routes):
                total_wall = total_cpu = 0.0
                for name, args in calls:
                    wall, cpu, changed = run_module(box, lib, name, args)
                    rows.append((phase, name, wall, cpu, changed))
                    total_wall += wall
                    total_cpu += cpu
                rows.append((phase, "total", total_wall, total_cpu, None))
            left = box.run(["ip", "netns", "list"]).stdout.split()
            links = box.run(["ip", "-o", "link", "show"]).stdout.count("\n")
            rows.append(("after teardown", "%d namespaces, %d links" % (len(left), links), 0.0, 0.0, None))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200")
    parser.add_argument("--python", choices=["venv", "system"], default="venv")
    parser.add_argument("--repo", default=REPO)
    parser.add_argument("--container-routes", action="store_true")
    opts = parser.parse_args()
    python = VENV_PYTHON if opts.python == "venv" else SYSTEM_PYTHON
    for n in [int(x) for x in opts.sizes.split(",")]:
        print("## N=%d, python %s, repo %s%s" % (n, opts.python, opts.repo,
                                                 ", container routes via host_route" if opts.container_routes else ""))
        print("| phase | module | wall s | CPU s | changed |\n| --- | --- | ---: | ---: | --- |")
        for phase, name, wall, cpu, changed in measure(python, n, os.path.abspath(opts.repo), opts.container_routes):
            print("| %s | %s | %.2f | %.2f | %s |" % (phase, name, wall, cpu, "" if changed is None else changed))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
