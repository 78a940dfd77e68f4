# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""crossnet.routed.netns against the kernel, inside a sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import time

# sitecustomize for the module's interpreter: log every way Python can start another process
NO_FORK_HOOK = """
import os, sys
def _hook(event, args):
    if event in ("os.fork", "os.forkpty", "os.posix_spawn", "os.exec", "os.system", "subprocess.Popen"):
        with open(os.environ["CROSSNET_FORK_LOG"], "a") as handle:
            handle.write(event + "\\n")
sys.addaudithook(_hook)
"""


def namespaces(box):
    return sorted(line.split()[0] for line in box.run(["ip", "netns", "list"]).stdout.splitlines() if line)


def test_create_idempotent_check_and_diff(sandbox):
    args = {"names": ["cnt1-a", "cnt1-b"]}
    predicted = sandbox.run_module("netns", args, check=True, diff=True)
    assert predicted["changed"] is True and predicted["created"] == ["cnt1-a", "cnt1-b"]
    assert namespaces(sandbox) == []
    done = sandbox.run_module("netns", args, diff=True)
    assert done["changed"] is True and not done["failed"]
    assert done["diff"] == {"before": {"namespaces": []}, "after": {"namespaces": ["cnt1-a", "cnt1-b"]}}
    assert namespaces(sandbox) == ["cnt1-a", "cnt1-b"]
    assert "UP" in sandbox.netns_run("cnt1-a", ["ip", "-o", "link", "show", "lo"]).stdout.split(">")[0]
    state = json.loads(sandbox.run(["cat", "/var/lib/crossnet/netns.json"]).stdout)
    assert state == {"namespaces": ["cnt1-a", "cnt1-b"]}
    again = sandbox.run_module("netns", args, check=True)
    assert again["changed"] is False
    assert sandbox.run_module("netns", args)["changed"] is False


def loopback_up(box, netns):
    return "UP" in box.netns_run(netns, ["ip", "-o", "link", "show", "lo"]).stdout.split(">")[0]


def test_drift_is_repaired(sandbox):
    sandbox.run_module("netns", {"names": ["cnt1-a", "cnt1-b"]})
    sandbox.run(["ip", "netns", "delete", "cnt1-a"], check=True)
    fixed = sandbox.run_module("netns", {"names": ["cnt1-a", "cnt1-b"]})
    assert fixed["changed"] is True and fixed["created"] == ["cnt1-a"]
    assert namespaces(sandbox) == ["cnt1-a", "cnt1-b"] and loopback_up(sandbox, "cnt1-a")


def test_existing_namespaces_are_not_entered(sandbox):
    """lo down in an existing namespace is veth_pair's to repair: netns only lists /run/netns."""
    sandbox.run_module("netns", {"names": ["cnt1-b"]})
    sandbox.netns_run("cnt1-b", ["ip", "link", "set", "lo", "down"], check=True)
    again = sandbox.run_module("netns", {"names": ["cnt1-b"]})
    assert again["changed"] is False and not loopback_up(sandbox, "cnt1-b")


def test_creates_and_removes_without_a_child_process(sandbox, tmp_path):
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(NO_FORK_HOOK)
    log = tmp_path / "forks.log"
    python = sandbox.interpreter_with("python-no-fork", {"PYTHONPATH": str(hook), "CROSSNET_FORK_LOG": str(log)})
    names = ["cnt1-n%d" % i for i in range(5)]
    done = sandbox.run_module("netns", {"names": names}, interpreter=python)
    assert done["created"] == names and namespaces(sandbox) == names, done.get("msg")
    assert all(loopback_up(sandbox, name) for name in names)
    assert os.path.exists(log) is False or log.read_text() == "", log.read_text()
    gone = sandbox.run_module("netns", {"names": names, "state": "absent"}, interpreter=python)
    assert gone["removed"] == names and namespaces(sandbox) == []
    assert not log.exists() or log.read_text() == "", log.read_text()
    # the hook does log when something forks (a test of the test)
    probe = sandbox.run(["env", "PYTHONPATH=%s" % hook, "CROSSNET_FORK_LOG=%s" % log, sandbox.python, "-c",
                         "import os; os.fork() or os._exit(0)"])
    assert probe.returncode == 0 and "os.fork" in log.read_text()


def test_purge_absent_and_foreign(sandbox):
    sandbox.run(["ip", "netns", "add", "cnt1-foreign"], check=True)
    sandbox.run_module("netns", {"names": ["cnt1-a", "cnt1-b"]})
    purged = sandbox.run_module("netns", {"names": ["cnt1-a"], "purge": True}, diff=True)
    assert purged["removed"] == ["cnt1-b"]
    assert namespaces(sandbox) == ["cnt1-a", "cnt1-foreign"]

    refused = sandbox.run_module("netns", {"names": ["cnt1-foreign"]})
    assert refused["failed"] and "cnt1-foreign" in refused["msg"] and "adopt" in refused["msg"]
    refused = sandbox.run_module("netns", {"names": ["cnt1-foreign"], "state": "absent"})
    assert refused["failed"] and namespaces(sandbox) == ["cnt1-a", "cnt1-foreign"]

    adopted = sandbox.run_module("netns", {"names": ["cnt1-a", "cnt1-foreign"], "adopt": True})
    assert adopted["changed"] and adopted["adopted"] == ["cnt1-foreign"]
    predicted = sandbox.run_module("netns", {"names": ["cnt1-a", "cnt1-foreign"], "state": "absent"}, check=True)
    assert predicted["changed"] and namespaces(sandbox) == ["cnt1-a", "cnt1-foreign"]
    gone = sandbox.run_module("netns", {"names": ["cnt1-a", "cnt1-foreign"], "state": "absent"})
    assert gone["removed"] == ["cnt1-a", "cnt1-foreign"] and namespaces(sandbox) == []
    # owning nothing any more, the module leaves no state file behind
    assert sandbox.run(["test", "-e", "/var/lib/crossnet/netns.json"]).returncode == 1
    assert sandbox.run_module("netns", {"names": ["cnt1-a"], "state": "absent"})["changed"] is False


def test_bad_name_is_rejected(sandbox):
    result = sandbox.run_module("netns", {"names": ["ok", "bad/name"]})
    assert result["failed"] and "bad/name" in result["msg"]
    assert namespaces(sandbox) == []


def start_in(box, netns, argv):
    """A process started inside ``netns`` of the sandbox (``ip netns exec`` execs it: same pid)."""
    return subprocess.Popen(["nsenter", "-t", str(box.pid), "-n", "-m", "--", "ip", "netns", "exec", netns] + argv,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_in_namespace(box, pid, netns, timeout=5.0):
    """Until ``pid`` is in ``netns`` (after nsenter and ip netns exec have exec'd into it)."""
    want = box.run(["stat", "-L", "-c", "%d:%i", "/run/netns/" + netns], check=True).stdout.strip()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = subprocess.run(["stat", "-L", "-c", "%d:%i", "/proc/%d/ns/net" % pid], capture_output=True, text=True, check=False)
        comm = subprocess.run(["cat", "/proc/%d/comm" % pid], capture_output=True, text=True, check=False).stdout.strip()
        if got.stdout.strip() == want and comm == "sleep":
            return
        time.sleep(0.05)
    raise AssertionError("pid %d did not get into %s" % (pid, netns))


def test_a_namespace_with_a_process_in_it_is_not_removed_unless_forced(sandbox):
    sandbox.run_module("netns", {"names": ["cnt1-a", "cnt1-b"]})
    sleeper = start_in(sandbox, "cnt1-a", ["sleep", "300"])
    try:
        wait_in_namespace(sandbox, sleeper.pid, "cnt1-a")
        named = "network namespace cnt1-a still has processes in it: pid %d (sleep)" % sleeper.pid
        for args in ({"names": ["cnt1-a"], "state": "absent"}, {"names": ["cnt1-b"], "purge": True}):
            predicted = sandbox.run_module("netns", args, check=True)
            assert predicted["failed"] and named in predicted["msg"], predicted.get("msg")
            assert "force_remove" in predicted["msg"]
            refused = sandbox.run_module("netns", args)
            assert refused["failed"] and named in refused["msg"], refused.get("msg")
            assert namespaces(sandbox) == ["cnt1-a", "cnt1-b"]
        # an idle namespace goes as before, while the busy one is listed (kept)
        assert sandbox.run_module("netns", {"names": ["cnt1-b"], "state": "absent"})["removed"] == ["cnt1-b"]
        forced = sandbox.run_module("netns", {"names": ["cnt1-a"], "state": "absent", "force_remove": True})
        assert not forced["failed"] and forced["removed"] == ["cnt1-a"] and namespaces(sandbox) == []
        assert sleeper.poll() is None  # the process itself is left running, in a namespace without a name
    finally:
        sleeper.kill()
        sleeper.wait()
