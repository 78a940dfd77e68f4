# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lab for the reliability cases: bring it up, run site.yml against it, look inside its hosts.

    lab = ReliabilityLab("xrbad", "tests/reliability/topologies/two_hosts.yml", workdir)
    lab.up()
    before = lab.snapshots()
    run = lab.playbook(overrides={"host1": {"crossnet_containers": "oops"}})
    assert run.rc != 0 and "host1" in run.output
    assert lab.changes_since(before) == {}
    lab.down()

A run's per-task results are recorded by the ``xr_events`` callback (callback_plugins/) so a case
can ask which task changed on which host, not only read the recap.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import signal
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "lab"))

from labkit import core  # noqa: E402

import snapshot as snapshot_mod  # noqa: E402


def _load_names():
    """plugins/module_utils/names.py without importing the collection package."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "crossnet_names", os.path.join(REPO, "plugins", "module_utils", "names.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


names = _load_names()

VENV_BIN = os.path.join(REPO, ".venv", "bin")
SITE = os.path.join(REPO, "playbooks", "site.yml")
CALLBACKS = os.path.join(HERE, "callback_plugins")
TOPOLOGIES = os.path.join(HERE, "topologies")
with open(snapshot_mod.__file__, encoding="utf-8") as _handle:
    SNAPSHOT_SOURCE = _handle.read()
_RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
                    r"\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)", re.M)
RECAP_KEYS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
PLAYBOOK_TIMEOUT = 300


class Run:
    """The outcome of one ansible-playbook run."""

    def __init__(self, argv, rc, stdout, stderr, events):
        self.argv, self.rc, self.stdout, self.stderr, self.events = argv, rc, stdout, stderr, events
        self.recap = {m.group(1): dict(zip(RECAP_KEYS, map(int, m.groups()[1:])))
                      for m in _RECAP.finditer(stdout)}

    @property
    def output(self):
        return self.stdout + "\n" + self.stderr

    def changed_tasks(self, host=None):
        return [e for e in self.events if e["changed"] and (host is None or e["host"] == host)]

    def changed_steps(self, host=None):
        """What changed, by module: host_network's steps, or the module of any other task."""
        return [step for e in self.changed_tasks(host)
                for step in (e.get("changed_steps") or [e["action"].split(".")[-1]])]

    def tasks(self, action=None, host=None):
        """Events of tasks whose module name ends with ``action`` (e.g. 'veth_pair')."""
        return [e for e in self.events
                if (action is None or e["action"].split(".")[-1] == action)
                and (host is None or e["host"] == host)]

    def describe(self):
        return "ansible-playbook rc=%d\n--- recap %s\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s" % (
            self.rc, json.dumps(self.recap), self.stdout[-6000:], self.stderr[-3000:])


class ReliabilityLab:
    """One lab (from a topology file) plus the means to run the collection against it."""

    def __init__(self, name, topology, workdir):
        self.name = name
        self.topology_path = topology if os.path.isabs(topology) else os.path.join(TOPOLOGIES, topology)
        self.lab = core.Lab(name)
        self.workdir = workdir
        self.collections = os.path.join(workdir, "collections")
        self.pristine = None
        self.dirty = True
        self.runs = 0

    # -- lifecycle -------------------------------------------------------------------------
    def up(self):
        self.lab.up(self.topology_path)
        self.topo = self.lab.topology()
        self.hosts = [node.name for node in self.topo.hosts]
        link = os.path.join(self.collections, "ansible_collections", "crossnet", "routed")
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if not os.path.islink(link):
            os.symlink(REPO, link)
        self.pristine = None
        self.pristine = self.snapshots()
        self.dirty = False
        return self

    def down(self):
        self.lab.down()

    def rebuild(self):
        """Start over from a fresh lab (when a case left a host in a state a run can't undo)."""
        self.lab.down()
        self.up()

    # -- looking inside ----------------------------------------------------------------------
    def run(self, host, argv, netns=None, check=False, timeout=60, **kwargs):
        self.dirty = True
        proc = self.lab.run(host, argv, netns, check=False, timeout=timeout, **kwargs)
        if check and proc.returncode != 0:
            raise AssertionError("%s on %s%s: exit %d\n%s%s" % (
                " ".join(argv), host, "/" + netns if netns else "", proc.returncode, proc.stdout, proc.stderr))
        return proc

    def snapshot(self, host):
        proc = self.lab.run(host, ["python3", "-"], input=SNAPSHOT_SOURCE, check=True, timeout=60)
        return json.loads(proc.stdout)

    def snapshots(self):
        with concurrent.futures.ThreadPoolExecutor(len(self.hosts)) as pool:
            taken = dict(zip(self.hosts, pool.map(self.snapshot, self.hosts)))
        # Every case that checks "nothing changed" also tells reset() whether it has work to do.
        self.dirty = taken != self.pristine
        return taken

    def changes_since(self, before):
        """{host: unified diff} for every host whose snapshot differs from ``before``."""
        after = self.snapshots()
        changes = {}
        for host in self.hosts:
            diff = snapshot_mod.compare(before[host], after[host])
            if diff:
                changes[host] = diff
        return changes

    def assert_unchanged_since(self, before, what="the run"):
        changes = self.changes_since(before)
        assert not changes, "%s changed hosts:\n%s" % (
            what, "\n".join("=== %s\n%s" % item for item in changes.items()))

    def normalized(self):
        return {host: snapshot_mod.normalized(snap) for host, snap in self.snapshots().items()}

    def normalized_diff(self, reference):
        """{host: diff} of the normalized snapshots against ``reference`` (normalized too)."""
        now = self.normalized()
        return {host: snapshot_mod.compare(reference[host], now[host])
                for host in self.hosts if reference[host] != now[host]}

    def icmp(self, host, netns, *args, **kwargs):
        with open(os.path.join(HERE, "icmp_probe.py"), encoding="utf-8") as handle:
            source = handle.read()
        return self.run(host, ["python3", "-"] + [str(a) for a in args], netns, input=source, **kwargs)

    def seen_by(self, host, netns, sends, tag, ifname=None, seconds=3):
        """Start a listener on ``host`` (in ``netns``, or sniffing ``ifname``), run every
        ``(host, netns, source, destination)`` of ``sends``, return the sources it saw."""
        with open(os.path.join(HERE, "icmp_probe.py"), encoding="utf-8") as handle:
            source = handle.read()
        argv = ["python3", "-c", source, "sniff" if ifname else "listen", str(seconds), tag]
        listener = subprocess.Popen(self.lab.argv(host, argv + ([ifname] if ifname else []), netns),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=self.lab.env())
        try:
            line = listener.stdout.readline().strip()
            assert line == "ready", "listener on %s did not start: %s" % (host, listener.stderr.read())
            for src_host, src_netns, src, dst in sends:
                self.icmp(src_host, src_netns, "send", src, dst, tag, check=True)
            out, dummy = listener.communicate(timeout=seconds + 20)
        finally:
            if listener.poll() is None:
                listener.kill()
                listener.communicate()
        return out.split()

    def netns_list(self, host):
        return sorted(line.split()[0] for line in self.run(host, ["ip", "netns", "list"], check=True).stdout.splitlines())

    # -- running the collection -------------------------------------------------------------
    def write_overrides(self, overrides, tag):
        """An extra inventory source that overrides host variables: {host: {var: value}}."""
        path = os.path.join(self.workdir, "overrides-%s.yml" % tag)
        with open(path, "w", encoding="utf-8") as handle:
            yaml.safe_dump({"all": {"hosts": overrides}}, handle, default_flow_style=False)
        return path

    def env(self, events_file, extra=None):
        env = dict(os.environ)
        env.update({
            "PATH": VENV_BIN + os.pathsep + env.get("PATH", ""),
            "ANSIBLE_COLLECTIONS_PATH": self.collections,
            "ANSIBLE_CALLBACK_PLUGINS": CALLBACKS,
            "ANSIBLE_CALLBACKS_ENABLED": "xr_events",
            "XR_EVENTS_FILE": events_file,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_PIPELINING": "1",
            "ANSIBLE_HOST_KEY_CHECKING": "0",
            "ANSIBLE_LOCAL_TEMP": os.path.join(self.workdir, "ansible-tmp"),
            "ANSIBLE_HOME": os.path.join(self.workdir, "ansible-home"),
        })
        env.pop("ANSIBLE_CONFIG", None)
        env.update(extra or {})
        return env

    def playbook_argv(self, overrides=None, extra_vars=None, check=False, tag=None):
        self.runs += 1
        tag = tag or str(self.runs)
        argv = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", self.lab.inventory]
        if overrides:
            argv += ["-i", self.write_overrides(overrides, tag)]
        if extra_vars:
            path = os.path.join(self.workdir, "extra-vars-%s.json" % tag)
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(extra_vars, handle)
            argv += ["-e", "@" + path]
        if check:
            argv.append("--check")
        argv.append(SITE)
        return argv, os.path.join(self.workdir, "events-%s.jsonl" % tag)

    def playbook(self, overrides=None, extra_vars=None, check=False, timeout=PLAYBOOK_TIMEOUT, env=None):
        """Run playbooks/site.yml against the lab; returns a Run (never raises on failure)."""
        argv, events = self.playbook_argv(overrides, extra_vars, check)
        self.dirty = True
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=self.workdir,
                              env=self.env(events, env), timeout=timeout, check=False)
        return Run(argv, proc.returncode, proc.stdout, proc.stderr, read_events(events))

    def start_playbook(self, overrides=None, extra_vars=None, env=None, tag=None):
        """Start site.yml in the background; finish with ``finish(handle)``."""
        argv, events = self.playbook_argv(overrides, extra_vars, tag=tag)
        self.dirty = True
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=self.workdir, env=self.env(events, env), start_new_session=True)
        return argv, events, proc

    @staticmethod
    def finish(handle, timeout=PLAYBOOK_TIMEOUT):
        argv, events, proc = handle
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
        return Run(argv, proc.returncode, stdout, stderr, read_events(events))

    def converge(self, overrides=None, what="converge"):
        run = self.playbook(overrides=overrides)
        assert run.rc == 0, "%s failed: %s" % (what, run.describe())
        return run

    def teardown(self):
        return self.playbook(extra_vars={"crossnet_state": "absent"})

    def reset(self):
        """Back to the state before the first run.  A fresh lab is quicker than a teardown run
        and does not depend on the code under test (teardown has cases of its own)."""
        if self.dirty and self.changes_since(self.pristine):
            self.rebuild()


def rejected(lab, overrides, expect, extra_vars=None, from_pristine=False):
    """Run site.yml with ``overrides``; it must fail, change nothing, and say every ``expect``
    (with ``from_pristine``, also: the lab was pristine before the run)."""
    before = lab.snapshots()
    run = lab.playbook(overrides=overrides, extra_vars=extra_vars)
    assert run.rc != 0, "the run succeeded on bad input: %s" % run.describe()
    assert not run.changed_tasks(), "tasks reported changed: %s" % run.changed_tasks()
    missing = [text for text in expect if text not in run.output]
    assert not missing, "the failure does not name %s: %s" % (missing, run.describe())
    lab.assert_unchanged_since(before, "a run on bad input")
    assert not from_pristine or before == lab.pristine, "the lab was not pristine before the run"
    return run


def read_events(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []


def wait_for(predicate, timeout=10.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
