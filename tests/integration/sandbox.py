# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake managed host for integration tests: its own network AND mount namespace.

A holder process (``unshare --net --mount --propagation private``) makes these paths private
and then waits:

    /run/netns  /run/lock  /etc/sysctl.d  /etc/iproute2/rt_protos.d  /var/lib/crossnet

so a module that runs "on the host" inside the sandbox creates namespaces, routes, sysctl files
and state files that the real machine never sees.  Everything the sandbox holds (its netns, the
namespaces mounted under its private /run/netns, the veths in them) disappears with the holder.

Modules run through Ansible (one-task playbook, connection local) with an interpreter wrapper
that enters the holder's namespaces:  ``nsenter -t <pid> -n -m -- <python> "$@"``.

Usage::

    with Sandbox("/usr/bin/python3") as box:
        result = box.run_module("netns", {"names": ["c1"]}, check=False, diff=True)
        box.run(["ip", "netns", "list"]).stdout
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_PYTHON = os.path.join(REPO, ".venv", "bin", "python")
SYSTEM_PYTHON = "/usr/bin/python3"
ANSIBLE_PLAYBOOK = os.path.join(REPO, ".venv", "bin", "ansible-playbook")
PRIVATE_DIRS = ("/run/netns", "/run/lock", "/etc/sysctl.d", "/etc/iproute2/rt_protos.d", "/var/lib/crossnet")
READY = b"ready\n"
CALLBACK_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback_plugins")


class SandboxError(RuntimeError):
    pass


class Sandbox:
    """One fake host.  ``python`` is the interpreter modules run with inside it."""

    def __init__(self, python=VENV_PYTHON, workdir=None):
        self.python = python
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="crossnet-sandbox-")
        self.holder = None
        self.interpreter = os.path.join(self.workdir, "python-in-sandbox")
        self.collections = os.path.join(self.workdir, "collections")

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self):
        self.holder = subprocess.Popen(
            ["unshare", "--net", "--mount", "--propagation", "private", "--",
             sys.executable, os.path.abspath(__file__), "--hold", self.workdir],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        line = self.holder.stdout.readline()
        if line != READY:
            err = self.holder.stderr.read().decode(errors="replace") if self.holder.poll() is not None else ""
            self.stop()
            raise SandboxError("sandbox holder did not start: %r %s" % (line, err))
        with open(self.interpreter, "w", encoding="utf-8") as handle:
            handle.write('#!/bin/sh\nexec nsenter -t %d -n -m -- %s "$@"\n' % (self.holder.pid, self.python))
        os.chmod(self.interpreter, 0o755)
        os.makedirs(os.path.join(self.collections, "ansible_collections", "crossnet"), exist_ok=True)
        link = os.path.join(self.collections, "ansible_collections", "crossnet", "routed")
        if not os.path.islink(link):
            os.symlink(REPO, link)
        return self

    def stop(self):
        """Kill the holder; its namespaces (and all namespaces mounted in it) go with it."""
        if self.holder is not None and self.holder.poll() is None:
            self.holder.send_signal(signal.SIGKILL)
        if self.holder is not None:
            self.holder.wait()
            for stream in (self.holder.stdin, self.holder.stdout, self.holder.stderr):
                stream.close()
            self.holder = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def pid(self):
        return self.holder.pid

    # -- running things inside ---------------------------------------------------------------
    def run(self, argv, check=False, **kwargs):
        """Run ``argv`` inside the sandbox's network and mount namespaces."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(["nsenter", "-t", str(self.pid), "-n", "-m", "--"] + list(argv),
                              check=check, **kwargs)

    def netns_run(self, netns, argv, **kwargs):
        """Run ``argv`` inside namespace ``netns`` of the sandbox (``ip netns exec``)."""
        return self.run(["ip", "netns", "exec", netns] + list(argv), **kwargs)

    def interpreter_with(self, name, env):
        """Another interpreter wrapper for the sandbox, running python with ``env`` added."""
        path = os.path.join(self.workdir, name)
        assigns = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in sorted(env.items()))
        with open(path, "w", encoding="utf-8") as handle:
            handle.write('#!/bin/sh\nexec nsenter -t %d -n -m -- env %s %s "$@"\n' % (self.holder.pid, assigns, self.python))
        os.chmod(path, 0o755)
        return path

    def run_module(self, name, args, check=False, diff=False, timeout=600, interpreter=None):
        """Run ``crossnet.routed.<name>`` (or a full FQCN) through Ansible; return its result.
        ``interpreter``: another wrapper than the sandbox's (see interpreter_with)."""
        fqcn = name if "." in name else "crossnet.routed." + name
        play = [{
            "hosts": "localhost", "gather_facts": False,
            "tasks": [{"name": "module under test", fqcn: args,
                       "check_mode": bool(check), "diff": bool(diff), "ignore_errors": True}],
        }]
        path = os.path.join(self.workdir, "play.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(play, handle)
        results = os.path.join(self.workdir, "results.jsonl")
        if os.path.exists(results):
            os.unlink(results)
        env = dict(os.environ,
                   ANSIBLE_COLLECTIONS_PATH=self.collections,
                   ANSIBLE_CALLBACK_PLUGINS=CALLBACK_DIR,
                   ANSIBLE_CALLBACKS_ENABLED="crossnet_result",
                   CROSSNET_RESULT_FILE=results,
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.workdir, "ansible-local"),
                   ANSIBLE_REMOTE_TEMP=os.path.join(self.workdir, "ansible-remote"),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
                   ANSIBLE_PIPELINING="1", ANSIBLE_DEPRECATION_WARNINGS="0")
        env["PATH"] = os.path.dirname(ANSIBLE_PLAYBOOK) + os.pathsep + env.get("PATH", "")
        proc = subprocess.run(
            [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local",
             "-e", "ansible_python_interpreter=" + (interpreter or self.interpreter), path],
            capture_output=True, text=True, env=env, timeout=timeout, check=False)
        try:
            with open(results, encoding="utf-8") as handle:
                result = json.loads(handle.readlines()[-1])
        except (OSError, ValueError, IndexError) as exc:
            raise SandboxError("ansible-playbook rc=%d, no task result (%s)\nstdout:\n%s\nstderr:\n%s"
                               % (proc.returncode, exc, proc.stdout, proc.stderr)) from None
        result.setdefault("changed", False)
        result.setdefault("failed", False)
        return result


# -- the holder (runs as root inside the fresh namespaces) -----------------------------------
def _mount(*argv):
    subprocess.run(["mount"] + list(argv), check=True)


def _make_private(path, scratch):
    """Mount an empty tmpfs on ``path``; if it does not exist, create it in an overlay of the
    nearest existing parent, so the real directory tree stays untouched."""
    if not os.path.isdir(path):
        parent = os.path.dirname(path)
        while not os.path.isdir(parent):
            parent = os.path.dirname(parent)
        tag = parent.strip("/").replace("/", "_") or "root"
        upper, work = os.path.join(scratch, tag + ".upper"), os.path.join(scratch, tag + ".work")
        os.makedirs(upper, exist_ok=True)
        os.makedirs(work, exist_ok=True)
        _mount("-t", "overlay", "overlay", "-o",
               "lowerdir=%s,upperdir=%s,workdir=%s" % (parent, upper, work), parent)
        os.makedirs(path, exist_ok=True)
    _mount("-t", "tmpfs", "-o", "mode=0755", "crossnet-sandbox", path)


def _hold(workdir):
    scratch = os.path.join(workdir, "scratch")
    os.makedirs(scratch, exist_ok=True)
    _mount("-t", "tmpfs", "crossnet-scratch", scratch)  # overlay upper dirs must not be on /tmp's fs
    for path in PRIVATE_DIRS:
        _make_private(path, scratch)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()
    sys.stdin.buffer.read()  # until the test process closes stdin or dies


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--hold":
    _hold(sys.argv[2])
