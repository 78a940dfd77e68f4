# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible_collections.crossnet.routed.plugins.module_utils.netns import plan, predicted_view


def test_creates_missing_and_leaves_owned_alone():
    result = plan(["a", "b"], "present", existing=["a"], owned=["a"])
    assert result.create == ["b"] and not result.remove and not result.errors and result.changed


def test_nothing_to_do_is_unchanged():
    assert not plan(["a"], "present", existing=["a", "x"], owned=["a"]).changed


def test_foreign_namespace_fails_unless_adopted():
    assert "not created by crossnet" in plan(["x"], "present", existing=["x"], owned=[]).errors[0]
    adopted = plan(["x"], "present", existing=["x"], owned=[], adopt=True)
    assert adopted.adopt == ["x"] and not adopted.errors


def test_purge_removes_only_owned():
    result = plan(["a"], "present", existing=["a", "b", "foreign"], owned=["a", "b"], purge=True)
    assert result.remove == ["b"]
    assert predicted_view(["a"], ["a", "b", "foreign"], ["a", "b"], result) == ["a"]


def test_absent_removes_owned_and_refuses_foreign():
    assert plan(["a"], "absent", existing=["a"], owned=["a"]).remove == ["a"]
    assert plan(["gone"], "absent", existing=[], owned=[]).changed is False
    assert plan(["f"], "absent", existing=["f"], owned=[]).errors


def test_stale_state_is_forgotten_without_a_change():
    result = plan(["a"], "present", existing=["a"], owned=["a", "gone"])
    assert result.forget == ["gone"] and not result.changed


def fake_proc(tmp_path, monkeypatch, layout):
    """/run/netns and /proc stand-ins: ``layout`` {pid: (comm, namespace name or None)}; a
    process's ns/net is a symlink to the namespace's file (os.stat follows it: same dev, ino)."""
    from ansible_collections.crossnet.routed.plugins.module_utils import nsfs
    run = tmp_path / "netns"
    run.mkdir()
    for name in ("web", "db", "idle"):
        (run / name).write_text("")
    (tmp_path / "elsewhere").write_text("")
    monkeypatch.setattr(nsfs, "NETNS_RUN_DIR", str(run))
    proc = tmp_path / "proc"
    for pid, (comm, name) in layout.items():
        (proc / str(pid) / "ns").mkdir(parents=True)
        (proc / str(pid) / "comm").write_text(comm + "\n")
        if name is not None:
            target = run / name if name != "elsewhere" else tmp_path / "elsewhere"
            (proc / str(pid) / "ns" / "net").symlink_to(target)
    (proc / "self").mkdir()
    return str(proc)


def test_processes_in_a_namespace_are_found_by_device_and_inode(tmp_path, monkeypatch):
    from ansible_collections.crossnet.routed.plugins.module_utils.netns import processes_in
    proc = fake_proc(tmp_path, monkeypatch, {
        40: ("httpd", "web"), 7: ("sh", "web"), 12: ("postgres", "db"), 13: ("bash", "elsewhere"),
        14: ("gone", None)})  # 14: no ns/net (ended, or unreadable): skipped
    assert processes_in(["web", "db", "idle", "missing"], proc=proc) == {
        "web": [(7, "sh"), (40, "httpd")], "db": [(12, "postgres")]}
    assert processes_in([], proc=proc) == {}


def test_the_refusal_names_each_namespace_and_a_few_processes():
    from ansible_collections.crossnet.routed.plugins.module_utils.netns import busy_message
    message = busy_message({"web": [(7, "sh"), (8, "httpd"), (9, "a"), (10, "b"), (11, "c")], "db": [(12, "pg")]})
    assert message.startswith("network namespace db still has processes in it: pid 12 (pg); "
                              "network namespace web still has processes in it: pid 7 (sh), pid 8 (httpd), "
                              "pid 9 (a) and 2 more; refusing to remove them")
    assert "force_remove=true" in message and "crossnet_force_remove" in message
