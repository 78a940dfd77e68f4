# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/iptables_state.py: the chain records, the ownership rule, nft table checks, and
sync() driven through a scripted module (no iptables, no nft)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.crossnet.routed.plugins.module_utils import iptables, iptables_state
from ansible_collections.crossnet.routed.plugins.module_utils.iptables import (
    FORWARD_CHAIN, NAT_CHAIN, ChainState)

META = {"metainfo": {"version": "1.0.6", "json_schema_version": 1}}


def nft_json(*objects):
    return json.dumps({"nftables": [META] + list(objects)})


def table(name):
    return {"table": {"family": "ip", "name": name, "handle": 1}}


def chain(name, policy="accept", hook=True, table_name="nat"):
    body = {"family": "ip", "table": table_name, "name": name, "handle": 2}
    if hook:
        body.update(type="nat", hook=name.lower(), prio=100, policy=policy)
    return {"chain": body}


# --- records ----------------------------------------------------------------------------------

def test_records_round_trip_and_file_goes_when_empty(tmp_path):
    state_dir = str(tmp_path / "crossnet")
    records = iptables_state.Records(state_dir)
    assert records.get("nft", NAT_CHAIN) is None
    records.add("nft", NAT_CHAIN, False)
    records.add("nft", FORWARD_CHAIN, True)
    path = os.path.join(state_dir, "iptables.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path, encoding="utf-8") as handle:
        assert json.load(handle) == {"nft": {
            "nat": {"chain": "CROSSNET-POSTROUTING", "table_existed": False},
            "filter": {"chain": "CROSSNET-FORWARD", "table_existed": True}}}

    again = iptables_state.Records(state_dir)
    assert again.get("nft", NAT_CHAIN) == {"chain": "CROSSNET-POSTROUTING", "table_existed": False}
    assert again.get("legacy", NAT_CHAIN) is None
    again.drop("nft", NAT_CHAIN)
    assert iptables_state.Records(state_dir).get("nft", NAT_CHAIN) is None
    again.drop("nft", FORWARD_CHAIN)
    assert not os.path.exists(path) and not os.path.exists(state_dir)


def test_records_keep_other_state_files(tmp_path):
    state_dir = str(tmp_path)
    (tmp_path / "netns.json").write_text("[]\n")
    records = iptables_state.Records(state_dir)
    records.add("legacy", FORWARD_CHAIN, None)
    records.drop("legacy", FORWARD_CHAIN)
    assert sorted(os.listdir(state_dir)) == ["netns.json"]


def test_records_reject_a_broken_file(tmp_path):
    (tmp_path / "iptables.json").write_text("[1, 2]\n")
    with pytest.raises(ValueError):
        iptables_state.Records(str(tmp_path))


def test_a_record_of_another_chain_name_is_not_ours(tmp_path):
    (tmp_path / "iptables.json").write_text('{"nft": {"nat": {"chain": "OTHER"}}}')
    assert iptables_state.Records(str(tmp_path)).get("nft", NAT_CHAIN) is None


# --- ownership --------------------------------------------------------------------------------

@pytest.mark.parametrize("state, record, adopt, foreign", [
    (ChainState(), None, False, False),                       # nothing there
    (ChainState(exists=True), {"chain": "x"}, False, False),  # recorded
    (ChainState(exists=True, jumps=1), None, False, False),   # our tagged jump
    (ChainState(exists=True, rules=["-j ACCEPT"]), None, True, False),  # adopt
    (ChainState(exists=True, rules=["-j ACCEPT"]), None, False, True),
    (ChainState(exists=True), None, False, True),
])
def test_foreign_chain_error(state, record, adopt, foreign):
    message = iptables_state.foreign_chain_error(NAT_CHAIN, state, record, adopt, "/s/iptables.json")
    assert (message is not None) == foreign
    if foreign:
        assert "CROSSNET-POSTROUTING" in message and "/s/iptables.json" in message
        assert "adopt" in message


# --- nft tables -------------------------------------------------------------------------------

def test_ip_tables_lists_ip_family_only():
    text = nft_json(table("nat"), {"table": {"family": "ip6", "name": "filter", "handle": 3}},
                    table("raw"))
    assert iptables_state.ip_tables(text) == {"nat", "raw"}
    assert iptables_state.ip_tables(nft_json()) == set()


@pytest.mark.parametrize("objects, pristine", [
    ([], True),                                   # iptables-nft -N/-X leaves a bare table
    ([chain("POSTROUTING"), chain("PREROUTING")], True),
    ([chain("POSTROUTING", policy="drop")], False),
    ([chain("POSTROUTING"), chain("USER", hook=False)], False),
    ([chain("CROSSNET-POSTROUTING", hook=False)], False),
    ([chain("POSTROUTING"), {"rule": {"family": "ip", "table": "nat", "chain": "POSTROUTING"}}], False),
    ([{"set": {"family": "ip", "name": "s", "table": "nat"}}], False),
    ([chain("FORWARD")], False),                  # not a nat built-in
])
def test_table_is_pristine(objects, pristine):
    assert iptables_state.table_is_pristine(nft_json(table("nat"), *objects), "nat") is pristine


# --- sync through a scripted module -------------------------------------------------------------

class Host:
    """A fake host: iptables-save output per read, restore always succeeds, nft tables."""

    def __init__(self, saves, tables=(), table_json=None, nft=True, state_dir=None):
        self.saves = list(saves)
        self.tables = set(tables)
        self.table_json = table_json
        self.has_nft = nft
        self.state_dir = state_dir
        self.calls = []
        self.warnings = []
        self.recorded_at_restore = []

    def get_bin_path(self, name):
        return "/usr/sbin/" + name if name != "nft" or self.has_nft else None

    def warn(self, text):
        self.warnings.append(text)

    def run_command(self, argv, data=None, binary_data=False):
        self.calls.append(argv)
        if argv[0] == "save":
            return 0, self.saves.pop(0), ""
        if argv[0] == "restore":
            self.recorded_at_restore.append(
                os.path.exists(os.path.join(self.state_dir, "iptables.json")))
            return 0, "", ""
        if argv[1:] == ["-j", "list", "tables", "ip"]:
            return 0, nft_json(*[table(t) for t in sorted(self.tables)]), ""
        if argv[1:4] == ["-j", "list", "table"]:
            return 0, self.table_json, ""
        if argv[1:3] == ["delete", "table"]:
            self.tables.discard(argv[4])
            return 0, "", ""
        raise AssertionError(argv)

    def nft_calls(self):
        return [argv[1:] for argv in self.calls if argv[0].endswith("/nft")]


EMPTY = "*nat\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n"
FOREIGN = "*nat\n:POSTROUTING ACCEPT [0:0]\n:CROSSNET-POSTROUTING - [0:0]\n" \
          "-A CROSSNET-POSTROUTING -s 10.99.0.0/24 -j ACCEPT\nCOMMIT\n"
OURS = "*nat\n:POSTROUTING ACCEPT [0:0]\n:CROSSNET-POSTROUTING - [0:0]\n" \
       "-A POSTROUTING -m comment --comment crossnet -j CROSSNET-POSTROUTING\n" \
       "-A CROSSNET-POSTROUTING -j MASQUERADE\nCOMMIT\n"
RULES = ["-j MASQUERADE"]


def run(host, present, check_mode=False, adopt=False, backend="nft"):
    records = iptables_state.Records(host.state_dir)
    return iptables_state.sync(iptables.Backend(host, backend, "save", "restore"), NAT_CHAIN,
                               RULES if present else [], present, check_mode, records, adopt)


def recorded(state_dir):
    return iptables_state.Records(state_dir).get("nft", NAT_CHAIN)


def test_first_write_records_chain_and_missing_table_before_the_restore(tmp_path):
    host = Host([EMPTY, OURS], tables=["filter"], state_dir=str(tmp_path))
    changed, dummy, after = run(host, True)
    assert changed and after.jumps == 1
    assert host.recorded_at_restore == [True]
    assert recorded(str(tmp_path)) == {"chain": "CROSSNET-POSTROUTING", "table_existed": False}


def test_an_existing_table_is_recorded_as_existing(tmp_path):
    host = Host([EMPTY, OURS], tables=["nat"], state_dir=str(tmp_path))
    run(host, True)
    assert recorded(str(tmp_path))["table_existed"] is True


def test_without_nft_the_table_history_is_unknown(tmp_path):
    host = Host([EMPTY, OURS], nft=False, state_dir=str(tmp_path))
    run(host, True)
    assert recorded(str(tmp_path))["table_existed"] is None


def test_legacy_never_asks_nft(tmp_path):
    host = Host([EMPTY, OURS, OURS, EMPTY], state_dir=str(tmp_path))
    run(host, True, backend="legacy")
    assert iptables_state.Records(str(tmp_path)).get("legacy", NAT_CHAIN)["table_existed"] is None
    run(host, False, backend="legacy")
    assert host.nft_calls() == [] and not os.path.exists(str(tmp_path / "iptables.json"))


def test_foreign_chain_fails_and_nothing_is_written(tmp_path):
    host = Host([FOREIGN], state_dir=str(tmp_path))
    with pytest.raises(iptables.IptablesError) as err:
        run(host, True)
    assert "CROSSNET-POSTROUTING" in str(err.value)
    assert host.calls == [["save", "-t", "nat"]]
    assert not os.path.exists(str(tmp_path / "iptables.json"))


def test_foreign_chain_fails_on_absent_too(tmp_path):
    host = Host([FOREIGN], state_dir=str(tmp_path))
    with pytest.raises(iptables.IptablesError):
        run(host, False)
    assert host.calls == [["save", "-t", "nat"]]


def test_adopt_takes_a_foreign_chain_over(tmp_path):
    host = Host([FOREIGN, OURS], state_dir=str(tmp_path))
    changed, before, after = run(host, True, adopt=True)
    assert changed and before.rules == ["-s 10.99.0.0/24 -j ACCEPT"] and after.rules == RULES
    assert recorded(str(tmp_path)) == {"chain": "CROSSNET-POSTROUTING", "table_existed": True}
    assert host.nft_calls() == []


def test_tagged_jump_proves_ownership_when_the_state_is_lost(tmp_path):
    host = Host([OURS], state_dir=str(tmp_path))
    changed, before, after = run(host, True)
    # Nothing to write in iptables, but the lost record is written again.
    assert changed and before == after
    assert [argv[0] for argv in host.calls] == ["save"]
    assert recorded(str(tmp_path))["table_existed"] is True
    host.saves.append(OURS)
    assert run(host, True)[0] is False


def test_check_mode_writes_no_record(tmp_path):
    host = Host([EMPTY], state_dir=str(tmp_path))
    changed, dummy, after = run(host, True, check_mode=True)
    assert changed and after.rules == RULES
    assert not os.path.exists(str(tmp_path / "iptables.json"))
    assert [argv[0] for argv in host.calls] == ["save"]


def test_absent_deletes_the_table_it_created_when_pristine(tmp_path):
    state_dir = str(tmp_path / "crossnet")
    host = Host([EMPTY, OURS, OURS, EMPTY], tables=[], state_dir=state_dir,
                table_json=nft_json(table("nat"), chain("POSTROUTING")))
    run(host, True)
    host.tables.add("nat")  # what iptables-nft-restore did
    changed, dummy, after = run(host, False)
    assert changed and after == ChainState()
    assert ["delete", "table", "ip", "nat"] in host.nft_calls()
    assert host.tables == set()
    assert not os.path.exists(state_dir)


def test_absent_keeps_a_table_with_foreign_content(tmp_path):
    host = Host([EMPTY, OURS, OURS, EMPTY], state_dir=str(tmp_path),
                table_json=nft_json(table("nat"), chain("POSTROUTING"),
                                    {"rule": {"family": "ip", "table": "nat", "chain": "POSTROUTING"}}))
    run(host, True)
    host.tables.add("nat")
    run(host, False)
    assert host.tables == {"nat"}
    assert not any(call[0] == "delete" for call in host.nft_calls())


def test_absent_keeps_a_table_that_existed_before(tmp_path):
    host = Host([EMPTY, OURS, OURS, EMPTY], tables=["nat"], state_dir=str(tmp_path),
                table_json=nft_json(table("nat")))
    run(host, True)
    run(host, False)
    assert host.tables == {"nat"} and not os.path.exists(str(tmp_path / "iptables.json"))


def test_absent_without_nft_warns_and_keeps_the_table(tmp_path):
    host = Host([EMPTY, OURS], nft=True, state_dir=str(tmp_path))
    run(host, True)
    host.has_nft = False
    host.saves += [OURS, EMPTY]
    assert run(host, False)[0] is True
    assert host.warnings and "nft" in host.warnings[0]


def test_absent_forgets_a_record_whose_chain_is_gone(tmp_path):
    host = Host([EMPTY, OURS], tables=["nat"], state_dir=str(tmp_path))
    run(host, True)
    host.saves.append(EMPTY)  # chain and jump deleted by hand
    changed, before, after = run(host, False)
    assert changed and before == after == ChainState()
    assert not os.path.exists(str(tmp_path / "iptables.json"))
    host.saves.append(EMPTY)
    assert run(host, False)[0] is False


def test_unreadable_nft_output_is_a_clear_error(tmp_path):
    host = Host([EMPTY], state_dir=str(tmp_path))
    host.run_command = lambda argv, data=None, binary_data=False: (
        (0, EMPTY, "") if argv[0] == "save" else (0, "not json", ""))
    with pytest.raises(iptables.IptablesError) as err:
        run(host, True)
    assert "nft -j list tables ip" in str(err.value)


# --- IPv6 (ip6tables) -------------------------------------------------------------------------

def table6(name):
    return {"table": {"family": "ip6", "name": name, "handle": 1}}


def test_ipv6_records_sit_next_to_the_ipv4_ones(tmp_path):
    state_dir = str(tmp_path)
    records = iptables_state.Records(state_dir)
    records.add("nft", NAT_CHAIN, True)
    records.add("nft-ip6", NAT_CHAIN, False)
    records.add("nft-ip6", iptables.RAW_CHAIN, False)
    with open(os.path.join(state_dir, "iptables.json"), encoding="utf-8") as handle:
        assert json.load(handle) == {
            "nft": {"nat": {"chain": "CROSSNET-POSTROUTING", "table_existed": True}},
            "nft-ip6": {"nat": {"chain": "CROSSNET-POSTROUTING", "table_existed": False},
                        "raw": {"chain": "CROSSNET-PREROUTING", "table_existed": False}}}
    records.drop("nft-ip6", NAT_CHAIN)
    records.drop("nft-ip6", iptables.RAW_CHAIN)
    assert iptables_state.Records(state_dir).document == {
        "nft": {"nat": {"chain": "CROSSNET-POSTROUTING", "table_existed": True}}}


def test_family_tables():
    text = nft_json(table("nat"), table6("filter"), table6("raw"))
    assert iptables_state.family_tables(text, "ip6") == {"filter", "raw"}
    assert iptables_state.ip_tables(text) == {"nat"}


@pytest.mark.parametrize("objects, pristine", [
    ([chain("PREROUTING", table_name="raw"), chain("OUTPUT", table_name="raw")], True),
    ([chain("PREROUTING", table_name="raw"), chain("CROSSNET-PREROUTING", hook=False, table_name="raw")], False),
    ([chain("POSTROUTING", table_name="raw")], False),   # not a raw built-in
])
def test_raw_table_is_pristine(objects, pristine):
    assert iptables_state.table_is_pristine(nft_json(table6("raw"), *objects), "raw") is pristine


def test_foreign_chain_error_names_the_command():
    message = iptables_state.foreign_chain_error(
        iptables.RAW_CHAIN, ChainState(exists=True), None, False, "/s/iptables.json", "ip6tables")
    assert message.startswith("the ip6tables raw chain CROSSNET-PREROUTING exists")


class Host6(Host):
    """The fake host's ip6 tables: nft answers for family ip6 only."""

    def run_command(self, argv, data=None, binary_data=False):
        if argv[0].endswith("/nft"):
            assert "ip" not in argv, argv   # never the IPv4 family
            self.calls.append(argv)
            if argv[1:] == ["-j", "list", "tables", "ip6"]:
                return 0, nft_json(*[table6(t) for t in sorted(self.tables)]), ""
            if argv[1:4] == ["-j", "list", "table"] and argv[4] == "ip6":
                return 0, self.table_json, ""
            if argv[1:4] == ["delete", "table", "ip6"]:
                self.tables.discard(argv[4])
                return 0, "", ""
            raise AssertionError(argv)
        return Host.run_command(self, argv, data, binary_data)


RAW_EMPTY = "*raw\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n"
RAW_OURS = "*raw\n:PREROUTING ACCEPT [0:0]\n:CROSSNET-PREROUTING - [0:0]\n" \
           "-A PREROUTING -m comment --comment crossnet -j CROSSNET-PREROUTING\n" \
           "-A CROSSNET-PREROUTING -i eth0 -m rpfilter --invert -j DROP\nCOMMIT\n"


def run6(host, present, check_mode=False, adopt=False):
    records = iptables_state.Records(host.state_dir)
    rules = ["-i eth0 -m rpfilter --invert -j DROP"] if present else []
    return iptables_state.sync(iptables.Backend(host, "nft", "save", "restore", 6), iptables.RAW_CHAIN,
                               rules, present, check_mode, records, adopt)


def test_ipv6_lifecycle_records_and_deletes_the_ip6_table_it_created(tmp_path):
    state_dir = str(tmp_path / "crossnet")
    host = Host6([RAW_EMPTY, RAW_OURS, RAW_OURS, RAW_EMPTY], tables=["nat"], state_dir=state_dir,
                 table_json=nft_json(table6("raw"), chain("PREROUTING", table_name="raw")))
    assert run6(host, True)[0] is True
    assert iptables_state.Records(state_dir).document == {
        "nft-ip6": {"raw": {"chain": "CROSSNET-PREROUTING", "table_existed": False}}}
    host.tables.add("raw")  # what ip6tables-nft-restore did
    changed, dummy, after = run6(host, False)
    assert changed and after == ChainState()
    assert ["delete", "table", "ip6", "raw"] in host.nft_calls()
    assert host.tables == {"nat"} and not os.path.exists(state_dir)


def test_ipv6_foreign_chain_refused(tmp_path):
    foreign = "*raw\n:CROSSNET-PREROUTING - [0:0]\nCOMMIT\n"
    host = Host6([foreign], state_dir=str(tmp_path))
    with pytest.raises(iptables.IptablesError) as err:
        run6(host, True)
    assert "ip6tables raw chain CROSSNET-PREROUTING" in str(err.value)
    assert host.calls == [["save", "-t", "raw"]]


def test_an_ipv4_record_does_not_make_the_ipv6_chain_ours(tmp_path):
    (tmp_path / "iptables.json").write_text(
        '{"nft": {"nat": {"chain": "CROSSNET-POSTROUTING", "table_existed": true}}}')
    records = iptables_state.Records(str(tmp_path))
    backend = iptables.Backend(Host([FOREIGN]), "nft", "save", "restore", 6)
    with pytest.raises(iptables.IptablesError):
        iptables_state.read_owned(backend, NAT_CHAIN, records, False)


def test_sync_takes_the_state_read_before(tmp_path):
    host = Host([OURS], state_dir=str(tmp_path))
    records = iptables_state.Records(host.state_dir)
    backend = iptables.Backend(host, "nft", "save", "restore")
    before = iptables_state.read_owned(backend, NAT_CHAIN, records, False)
    host.tables.add("nat")
    changed, dummy, after = iptables_state.sync(backend, NAT_CHAIN, RULES, True, False, records, False, before)
    assert changed and after == before   # only the lost record written again
    assert host.calls == [["save", "-t", "nat"]]
