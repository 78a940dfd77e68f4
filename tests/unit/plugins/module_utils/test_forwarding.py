# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parts of module_utils/forwarding.py: the step plan (both families, accept_ra), the file
and the prior values."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.crossnet.routed.plugins.module_utils import forwarding

GOOD = forwarding.sysctl_file_content()
GOOD6 = forwarding.sysctl_file_content(True, ["eth0"])
RA = ("accept_ra", "eth0")


def now(ip_forward="0", ipv6="0", **accept_ra):
    return {"ip_forward": ip_forward, "ipv6_forwarding": ipv6, "accept_ra": accept_ra}


# --- the file ---------------------------------------------------------------------------------

def test_sysctl_file_sets_ip_forward():
    assert GOOD == forwarding.HEADER + "net.ipv4.ip_forward = 1\n"


def test_sysctl_file_with_ipv6_and_accept_ra():
    text = forwarding.sysctl_file_content(True, ["eth0", "eth0.100"])
    assert text.splitlines()[1:] == [
        "net.ipv4.ip_forward = 1",
        "net.ipv6.conf.all.forwarding = 1",
        "net.ipv6.conf.eth0.accept_ra = 2",
        # sysctl.d and sysctl(8): with dots as separators a dot in a name is written as a slash
        "net.ipv6.conf.eth0/100.accept_ra = 2",
    ]


# --- IPv4 (as before the IPv6 work) -----------------------------------------------------------

def test_present_from_scratch_records_prior_then_changes():
    steps = forwarding.plan(True, now("0"), None, None)
    assert steps["record"] == {"ip_forward": "0"}
    assert steps["writes"] == [("ip_forward", "1")]
    assert steps["content"] == GOOD and steps["final"] is None and steps["changed"]
    assert steps["after"]["ip_forward"] == "1" and steps["prior"] == {"ip_forward": "0"}


def test_present_converged_does_nothing():
    steps = forwarding.plan(True, now("1"), GOOD, {"ip_forward": "0"})
    assert not steps["changed"] and steps["record"] is None and steps["final"] is None
    assert steps["writes"] == []


def test_present_converged_without_state_does_not_invent_one():
    # ip_forward was already 1 and the file is right: nothing to undo, nothing to record.
    steps = forwarding.plan(True, now("1"), GOOD, None)
    assert not steps["changed"] and steps["record"] is None and steps["final"] is None


def test_present_never_overwrites_the_recorded_prior():
    steps = forwarding.plan(True, now("0"), GOOD, {"ip_forward": "0"})   # reset by hand
    assert steps["writes"] == [("ip_forward", "1")] and steps["record"] is None


def test_present_rewrites_an_edited_file():
    steps = forwarding.plan(True, now("1"), "net.ipv4.ip_forward = 0\n", None)
    assert steps["content"] == GOOD and steps["record"] == {"ip_forward": "1"}
    assert steps["writes"] == []


def test_absent_restores_prior_and_removes_file_and_state():
    steps = forwarding.plan(False, now("1"), GOOD, {"ip_forward": "0"})
    assert steps["writes"] == [("ip_forward", "0")]
    assert steps["content"] is None and steps["final"] == "remove" and steps["changed"]


def test_absent_keeps_runtime_it_never_changed():
    steps = forwarding.plan(False, now("1"), None, None)
    assert not steps["changed"] and steps["writes"] == [] and steps["final"] is None


def test_absent_prior_one_leaves_runtime():
    steps = forwarding.plan(False, now("1"), GOOD, {"ip_forward": "1"})
    assert steps["writes"] == [] and steps["content"] is None and steps["final"] == "remove"


def test_ipv4_only_never_looks_at_ipv6():
    steps = forwarding.plan(True, now("0", ipv6="0", eth0="1"), None, None, False, ["eth0"])
    assert steps["writes"] == [("ip_forward", "1")]
    assert steps["record"] == {"ip_forward": "0"}


# --- IPv6 -------------------------------------------------------------------------------------

def test_ipv6_from_scratch_protects_accept_ra_before_forwarding():
    steps = forwarding.plan(True, now("0", "0", eth0="1"), None, None, True, ["eth0"])
    # accept_ra 2 first: turning forwarding on drops RA default routes where accept_ra is 1
    assert steps["writes"] == [(RA, "2"), ("ipv6_forwarding", "1"), ("ip_forward", "1")]
    assert steps["record"] == {"ip_forward": "0", "ipv6_forwarding": "0", "accept_ra": {"eth0": "1"}}
    assert steps["final"] is None and steps["content"] == GOOD6
    assert steps["after"] == now("1", "1", eth0="2")


def test_ipv6_converged_does_nothing():
    state = {"ip_forward": "0", "ipv6_forwarding": "0", "accept_ra": {"eth0": "1"}}
    steps = forwarding.plan(True, now("1", "1", eth0="2"), GOOD6, state, True, ["eth0"])
    assert not steps["changed"] and steps["writes"] == []


@pytest.mark.parametrize("value", ["0", "2"])
def test_accept_ra_0_or_2_is_left_alone(value):
    steps = forwarding.plan(True, now("1", "0", eth0=value), GOOD, None, True, ["eth0"])
    assert steps["writes"] == [("ipv6_forwarding", "1")]
    assert steps["record"] == {"ip_forward": "1", "ipv6_forwarding": "0"}
    assert "accept_ra" not in steps["content"]


def test_missing_interface_is_left_alone():
    steps = forwarding.plan(True, now("1", "1", eth9=None), None, None, True, ["eth9"])
    assert steps["writes"] == [] and "accept_ra" not in steps["content"]
    assert "accept_ra" not in steps["record"]


def test_ipv6_prior_recorded_once():
    state = {"ip_forward": "0", "ipv6_forwarding": "0", "accept_ra": {"eth0": "1"}}
    # both reset by hand
    steps = forwarding.plan(True, now("1", "0", eth0="1"), GOOD6, state, True, ["eth0"])
    assert steps["writes"] == [(RA, "2"), ("ipv6_forwarding", "1")]
    assert steps["record"] is None and steps["final"] is None


def test_ipv6_already_on_is_recorded_when_its_line_is_new():
    steps = forwarding.plan(True, now("1", "1"), GOOD, {"ip_forward": "0"}, True)
    assert steps["writes"] == []
    assert steps["record"] == {"ip_forward": "0", "ipv6_forwarding": "1"}
    assert steps["content"] == forwarding.sysctl_file_content(True)


def test_ipv6_no_longer_listed_goes_back():
    state = {"ip_forward": "0", "ipv6_forwarding": "0", "accept_ra": {"eth0": "1"}}
    steps = forwarding.plan(True, now("1", "1", eth0="2"), GOOD6, state, False, ["eth0"])
    # forwarding off first, then accept_ra back (as it was, RAs are listened to again)
    assert steps["writes"] == [("ipv6_forwarding", "0"), (RA, "1")]
    assert steps["content"] == GOOD
    assert steps["record"] is None
    assert steps["final"] == "save" and steps["state"] == {"ip_forward": "0"}
    assert steps["prior"]["ipv6_forwarding"] == "0"


def test_interface_no_longer_listed_goes_back_alone():
    state = {"ip_forward": "0", "ipv6_forwarding": "0", "accept_ra": {"eth0": "1", "eth1": "1"}}
    content = forwarding.sysctl_file_content(True, ["eth0", "eth1"])
    steps = forwarding.plan(True, now("1", "1", eth0="2", eth1="2"), content, state, True, ["eth1"])
    assert steps["writes"] == [(RA, "1")]
    assert steps["content"] == forwarding.sysctl_file_content(True, ["eth1"])
    assert steps["state"] == {"ip_forward": "0", "ipv6_forwarding": "0", "accept_ra": {"eth1": "1"}}


def test_recorded_interface_set_to_0_by_hand_stays_0_and_recorded():
    state = {"ip_forward": "0", "ipv6_forwarding": "0", "accept_ra": {"eth0": "1"}}
    steps = forwarding.plan(True, now("1", "1", eth0="0"), GOOD6, state, True, ["eth0"])
    assert steps["writes"] == [] and not steps["changed"]


def test_absent_restores_everything_forwarding_first():
    state = {"ip_forward": "0", "ipv6_forwarding": "0", "accept_ra": {"eth0": "1", "gone": "1"}}
    steps = forwarding.plan(False, now("1", "1", eth0="2", gone=None), GOOD6, state)
    assert steps["writes"] == [("ip_forward", "0"), ("ipv6_forwarding", "0"), (RA, "1")]
    assert steps["content"] is None and steps["final"] == "remove"
    assert steps["after"] == now("0", "0", eth0="1", gone=None)


def test_absent_on_a_kernel_without_ipv6():
    steps = forwarding.plan(False, now("1", None), GOOD, {"ip_forward": "0", "ipv6_forwarding": "0"})
    assert steps["writes"] == [("ip_forward", "0")]


def test_plan_accept_ra_pure():
    protect, restore, records, persist = forwarding.plan_accept_ra(
        True, ["a", "b", "c", "d"], {"a": "1", "b": "2", "c": "0", "d": "2", "e": "2"},
        {"d": "1", "e": "1"})
    assert protect == [("a", "2")] and restore == [("e", "1")]
    assert records == {"a": "1", "d": "1"} and persist == ["a", "d"]
    # no IPv6 forwarding wanted: nothing protected, every record restored
    protect, restore, records, persist = forwarding.plan_accept_ra(
        False, ["a"], {"a": "1", "d": "2"}, {"d": "1"})
    assert (protect, restore, records, persist) == ([], [("d", "1")], {}, [])


def test_keys_and_paths():
    assert forwarding.key_name(("accept_ra", "eth0.100")) == "net.ipv6.conf.eth0/100.accept_ra"
    assert forwarding.runtime_path(("accept_ra", "eth0.100")) == "/proc/sys/net/ipv6/conf/eth0.100/accept_ra"
    assert forwarding.runtime_path("ipv6_forwarding") == "/proc/sys/net/ipv6/conf/all/forwarding"
    assert forwarding.key_name("ip_forward") == "net.ipv4.ip_forward"


# --- the state file ---------------------------------------------------------------------------

def test_prior_round_trip(tmp_path):
    state_dir = str(tmp_path / "state")
    assert forwarding.load_prior(state_dir) is None and not forwarding.has_state(state_dir)
    assert forwarding.load_state(state_dir) is None
    forwarding.save_prior(state_dir, "0")
    assert forwarding.load_prior(state_dir) == "0" and forwarding.has_state(state_dir)
    assert forwarding.load_state(state_dir) == {"ip_forward": "0"}
    assert stat.S_IMODE(os.stat(os.path.join(state_dir, forwarding.STATE_NAME)).st_mode) == 0o600
    assert forwarding.remove_state(state_dir) and not forwarding.remove_state(state_dir)


def test_state_round_trip_and_garbage_is_dropped(tmp_path):
    state_dir = str(tmp_path)
    full = {"ip_forward": "0", "ipv6_forwarding": "1", "accept_ra": {"eth0": "1"}}
    forwarding.save_state(state_dir, full)
    assert forwarding.load_state(state_dir) == full
    assert forwarding.normalise_state({"ip_forward": 1, "ipv6_forwarding": "yes",
                                       "accept_ra": {"../../x": "1", "eth1": "7", "eth2": 2}}) == {
        "ip_forward": "1", "accept_ra": {"eth2": "2"}}
    assert forwarding.normalise_state([1]) == {}


def test_file_write_and_remove(tmp_path):
    path = str(tmp_path / "sysctl.d" / "60-crossnet.conf")
    assert forwarding.read_file(path) is None
    forwarding.write_file(path, GOOD)
    assert forwarding.read_file(path) == GOOD
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert os.listdir(os.path.dirname(path)) == ["60-crossnet.conf"]
    assert forwarding.remove_file(path) and not forwarding.remove_file(path)


def test_runtime_read_write(tmp_path):
    path = str(tmp_path / "ip_forward")
    forwarding.write_runtime("1", path)
    assert forwarding.read_runtime(path) == "1"
    assert forwarding.read_optional(str(tmp_path / "missing")) is None
