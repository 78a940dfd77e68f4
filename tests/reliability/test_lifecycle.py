# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A container's life through site.yml: check mode predicts changes and makes none; a container
added to the inventory gets its namespace, a route on the other host and traffic with its own
source address; removed from the inventory, it disappears from both hosts.  A container list
written with templates is rendered in its host's context."""

from __future__ import annotations

LAB_NAME = "xrlife"
TOPOLOGY = "two_hosts.yml"

C3 = {"name": "c3", "addresses": ["10.40.1.9"]}
WITH_C3 = {"host1": {"crossnet_containers": [{"name": "c1", "addresses": ["10.40.1.1"]}, C3]}}
# The same, written with templates over a variable of host1's own
WITH_C3_TEMPLATED = {"host1": {"c3_subnet": "10.40.1", "crossnet_containers": [
    {"name": "c1", "addresses": ["10.40.1.1"]}, {"name": "c{{ 1 + 2 }}", "addresses": ["{{ c3_subnet }}.9"]}]}}


def _routes_to(lab, host, address):
    """Our routes on ``host`` that cover ``address``."""
    return lab.run(host, ["ip", "route", "show", "match", address, "proto", "157"], check=True).stdout.strip()


def test_check_mode_predicts_changes_and_makes_none(fresh_lab):
    run = fresh_lab.playbook(check=True)
    assert run.rc == 0, run.describe()
    assert run.recap["host1"]["changed"] > 0 and run.recap["host2"]["changed"] > 0, run.describe()
    fresh_lab.assert_unchanged_since(fresh_lab.pristine, "a --check run")


def test_container_added_then_removed(fresh_lab):
    lab = fresh_lab
    lab.converge()
    converged = lab.normalized()

    lab.converge(overrides=WITH_C3, what="adding c3")
    assert lab.netns_list("host1") == ["c1", "c3"]
    assert "via 192.168.9.3" in _routes_to(lab, "host2", "10.40.1.9")
    seen = lab.seen_by("host1", "c3", [("host2", "c2", "10.40.2.1", "10.40.1.9")], "xr-life")
    assert seen == ["10.40.2.1"], "c3 saw %r instead of c2's own address" % seen

    lab.converge(what="removing c3")
    assert lab.netns_list("host1") == ["c1"]
    assert _routes_to(lab, "host2", "10.40.1.9") == ""
    assert not lab.normalized_diff(converged), lab.normalized_diff(converged)


def test_templates_in_the_container_list_are_rendered(fresh_lab):
    """The planner takes a container list without templates as it is (plugin_utils/inventory.py);
    one with templates is rendered like any variable, also when another host plans around it."""
    lab = fresh_lab
    lab.converge(overrides=WITH_C3_TEMPLATED, what="a templated container list")
    assert lab.netns_list("host1") == ["c1", "c3"]
    assert "via 192.168.9.3" in _routes_to(lab, "host2", "10.40.1.9")
    run = lab.playbook(overrides=WITH_C3)
    assert run.rc == 0 and run.recap["host1"]["changed"] == 0 and run.recap["host2"]["changed"] == 0, (
        "the same list without templates changed something: %s" % run.describe())
