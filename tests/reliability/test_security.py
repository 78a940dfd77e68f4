# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Security: a container cannot send with a source address that is not its own; no user string
reaches a shell; what the collection writes on a host is root-owned and not world-writable.
(Hostile names in the inventory are tried in test_bad_input.py, counted in this group.)"""

from __future__ import annotations

import ast
import glob
import json
import os
import stat

import pytest
import yaml

from harness import REPO

LAB_NAME = "xrsec"
TOPOLOGY = "two_hosts.yml"
pytestmark = pytest.mark.security

SPOOFED = ["10.40.9.9", "192.168.9.4"]  # an address nobody routes to c1; host2's node address


def test_spoofed_source_is_dropped_on_the_host(converged_lab):
    lab = converged_lab
    for address in SPOOFED:
        lab.run("host1", ["ip", "-n", "c1", "addr", "add", address + "/32", "dev", "eth0"], check=True)
    try:
        sends = [("host1", "c1", src, "10.40.2.1") for src in ["10.40.1.1"] + SPOOFED]
        # What leaves host1 at all: host2's uplink sees every packet host1 forwards.
        on_wire = lab.seen_by("host2", None, sends, "xr-spoof-wire", ifname="eth0")
        in_c2 = lab.seen_by("host2", "c2", sends, "xr-spoof-c2")
    finally:
        for address in SPOOFED:
            lab.run("host1", ["ip", "-n", "c1", "addr", "del", address + "/32", "dev", "eth0"])
    assert "10.40.1.1" in on_wire and in_c2 == ["10.40.1.1"], \
        "the control packet from c1's own address did not arrive: wire %r, c2 %r" % (on_wire, in_c2)
    assert on_wire == ["10.40.1.1"], "host1 forwarded spoofed sources: %r" % on_wire


_HOST_FILES = r'''
import json, os, stat, sys
out = []
for top in sys.argv[1:]:
    for root, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/run/sshd", "/root/.ansible")]
        for name in [""] + files:
            path = os.path.join(root, name) if name else root
            info = os.lstat(path)
            out.append([path, info.st_uid, info.st_gid, info.st_mode])
print(json.dumps(out))
'''


def _written(lab, host):
    """Every file the runs wrote on ``host``: the upper layers of its /etc, /var and /root
    overlays (only what was written since the lab started) plus its private /run."""
    hostdir = lab.lab.hostdir(host)
    uppers = sorted(glob.glob(os.path.join(hostdir, "fs", "*.upper")))
    found = []
    for upper in uppers:
        top = "/" + os.path.basename(upper)[:-len(".upper")]
        for root, dirs, files in os.walk(upper):
            dirs[:] = [d for d in dirs if os.path.relpath(os.path.join(root, d), upper) != ".ansible"]
            for name in [""] + files:
                path = os.path.join(root, name) if name else root
                info = os.lstat(path)
                found.append([top + path[len(upper):], info.st_uid, info.st_gid, info.st_mode])
    proc = lab.run(host, ["python3", "-c", _HOST_FILES, "/run"], check=True)
    return found + json.loads(proc.stdout)


def test_files_written_on_hosts_are_root_owned_and_not_world_writable(converged_lab):
    lab = converged_lab
    problems, seen = [], []
    for host in lab.hosts:
        for path, uid, gid, mode in _written(lab, host):
            seen.append(path)
            if stat.S_ISLNK(mode):  # a symlink's own mode is always 0777
                continue
            if uid != 0 or gid != 0:
                problems.append("%s:%s owned by %d:%d" % (host, path, uid, gid))
            if mode & 0o002 and not (mode & 0o1000):  # sticky dirs like /run/lock may be 1777
                problems.append("%s:%s is world-writable (%o)" % (host, path, mode & 0o7777))
            if path.startswith("/var/lib/crossnet/") and mode & 0o077:
                problems.append("%s:%s state file mode %o, design says 0600" % (host, path, mode & 0o7777))
    assert any(p.startswith("/var/lib/crossnet/") for p in seen), "no state file found: %s" % seen
    assert any(p.startswith("/etc/sysctl.d/") for p in seen), "no sysctl file found: %s" % seen
    assert not problems, "\n".join(problems)


def _python_files():
    return sorted(glob.glob(os.path.join(REPO, "plugins", "**", "*.py"), recursive=True))


def _stringish(node):
    """Whether an argv argument is built as a string (run_command would split or shell it)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):  # "ip " + x, "ip %s" % x; [a] + argv is a list
        return _stringish(node.left) or (isinstance(node.op, ast.Add) and _stringish(node.right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in ("format", "join") and isinstance(node.func.value, (ast.Constant, ast.JoinedStr))
    return False


def test_no_shell_in_the_collections_python():
    """No subprocess with shell=True, os.system/os.popen, run_command with a string or
    use_unsafe_shell anywhere in plugins/."""
    problems = []
    for path in _python_files():
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            where = "%s:%d" % (os.path.relpath(path, REPO), node.lineno)
            if name in ("system", "popen", "getoutput", "getstatusoutput", "spawnlp", "execlp"):
                problems.append("%s: %s()" % (where, name))
            for keyword in node.keywords:
                if keyword.arg in ("shell", "use_unsafe_shell") and not (
                        isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
                    problems.append("%s: %s=%s" % (where, keyword.arg, ast.unparse(keyword.value)))
            if name == "run_command" and node.args and _stringish(node.args[0]):
                problems.append("%s: run_command with a string: %s" % (where, ast.unparse(node.args[0])))
    assert not problems, "\n".join(problems)


SHELL_MODULES = {"shell", "command", "raw", "script", "expect", "ansible.builtin.shell",
                 "ansible.builtin.command", "ansible.builtin.raw", "ansible.builtin.script",
                 "ansible.builtin.expect", "ansible.legacy.shell", "ansible.legacy.command"}


def _tasks(node):
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers"):
            if key in node:
                yield from _tasks(node[key])


def test_no_shell_in_the_role_or_playbooks():
    files = glob.glob(os.path.join(REPO, "roles", "*", "tasks", "*.yml")) \
        + glob.glob(os.path.join(REPO, "roles", "*", "handlers", "*.yml")) \
        + glob.glob(os.path.join(REPO, "playbooks", "*.yml"))
    assert files, "no role tasks found"
    problems = []
    for path in files:
        with open(path, encoding="utf-8") as handle:
            doc = yaml.safe_load(handle)
        for task in _tasks(doc):
            used = SHELL_MODULES & set(task)
            if used:
                problems.append("%s: task %r uses %s" % (os.path.relpath(path, REPO), task.get("name"), used))
    assert not problems, "\n".join(problems)
