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
