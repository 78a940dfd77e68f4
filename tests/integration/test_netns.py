# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""crossnet.routed.netns against the kernel, inside a sandbox."""

from __future__ import annotations

import json


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


def test_drift_is_repaired(sandbox):
    sandbox.run_module("netns", {"names": ["cnt1-a", "cnt1-b"]})
    sandbox.run(["ip", "netns", "delete", "cnt1-a"], check=True)
    sandbox.netns_run("cnt1-b", ["ip", "link", "set", "lo", "down"], check=True)
    fixed = sandbox.run_module("netns", {"names": ["cnt1-a", "cnt1-b"]})
    assert fixed["changed"] is True and fixed["created"] == ["cnt1-a"]
    assert namespaces(sandbox) == ["cnt1-a", "cnt1-b"]
    assert "UP" in sandbox.netns_run("cnt1-b", ["ip", "-o", "link", "show", "lo"]).stdout.split(">")[0]


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
