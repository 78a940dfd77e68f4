# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which iptables chains the collection created, and whether their table was there before.

``state_dir/iptables.json`` is written *before* a chain is created (a killed run still owns
what it made), one entry per backend and table; IPv4 chains under the backend's name (as ever),
IPv6 (ip6tables) chains under ``<backend>-ip6``::

    {"nft": {"nat": {"chain": "CROSSNET-POSTROUTING", "table_existed": false}},
     "nft-ip6": {"nat": {"chain": "CROSSNET-POSTROUTING", "table_existed": true},
                 "raw": {"chain": "CROSSNET-PREROUTING", "table_existed": false}}}

An existing chain with our name is ours when it is recorded there, or when a rule jumps to it
with the comment ``crossnet`` (only the collection writes that jump; this keeps a host whose
state directory was lost manageable).  Any other chain with our name belongs to someone else:
the modules fail naming it unless ``adopt`` is set.

``table_existed`` is known for the nft backend only, and only with the ``nft`` command: an
iptables-nft write creates the ``ip nat``/``ip filter`` table when it is missing (ip6tables-nft:
``ip6 nat``/``ip6 filter``/``ip6 raw``), and the collection deletes such a table again on
``absent`` when nothing but empty built-in chains with policy accept is left in it.  Legacy
tables belong to kernel modules that stay loaded; ``null`` means unknown, and a table of unknown
history is never deleted.
"""

from __future__ import annotations

import json

from ansible_collections.crossnet.routed.plugins.module_utils import iptables, statefile

STATE_NAME = "iptables.json"
BUILTIN_CHAINS = {
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "raw": ("PREROUTING", "OUTPUT"),
}


class Records:
    """The contents of ``state_dir/iptables.json``; every change is saved at once."""

    def __init__(self, state_dir):
        self.state_dir = state_dir
        document = statefile.load(state_dir, STATE_NAME, {})
        if not isinstance(document, dict):
            raise ValueError("%s/%s is not a JSON object" % (state_dir, STATE_NAME))
        self.document = document

    @property
    def path(self):
        return "%s/%s" % (self.state_dir.rstrip("/"), STATE_NAME)

    def get(self, backend, chain):
        """The record of ``chain`` for ``backend`` (a dict), or None.  ``backend`` is the key of
        a Backend (its ``record_key``: ``nft``, ``legacy``, ``nft-ip6``, ``legacy-ip6``)."""
        tables = self.document.get(backend)
        entry = tables.get(chain.table) if isinstance(tables, dict) else None
        if isinstance(entry, dict) and entry.get("chain") == chain.name:
            return entry
        return None

    def add(self, backend, chain, table_existed):
        self.document.setdefault(backend, {})[chain.table] = {
            "chain": chain.name, "table_existed": table_existed}
        statefile.save(self.state_dir, STATE_NAME, self.document)

    def drop(self, backend, chain):
        """Forget ``chain``; the file goes when nothing is left in it."""
        tables = self.document.get(backend)
        if isinstance(tables, dict):
            tables.pop(chain.table, None)
            if not tables:
                del self.document[backend]
        if self.document:
            statefile.save(self.state_dir, STATE_NAME, self.document)
        else:
            statefile.remove(self.state_dir, STATE_NAME)


def foreign_chain_error(chain, state, record, adopt, path, command="iptables"):
    """The failure message when an existing ``chain`` is not ours, else None."""
    if not state.exists or record is not None or state.jumps or adopt:
        return None
    return ("the %s %s chain %s exists but the collection did not create it (it is not recorded "
            "in %s and no rule jumps to it with the comment '%s'); it was left as it is.  Rename "
            "or delete it, or set adopt: true to take it over (its rules will be replaced)"
            % (command, chain.table, chain.name, path, iptables.COMMENT))


# --- nft tables -----------------------------------------------------------------------------

def _objects(nft_json):
    """The objects of ``nft -j list ...`` output as (kind, body) pairs, metainfo left out."""
    for item in json.loads(nft_json).get("nftables", []):
        for kind, body in item.items():
            if kind != "metainfo":
                yield kind, body


def family_tables(nft_json, family):
    """Names of the ``family`` tables in ``nft -j list tables <family>`` output."""
    return {body["name"] for kind, body in _objects(nft_json)
            if kind == "table" and body.get("family") == family}


def ip_tables(nft_json):
    """Names of the ``ip`` family tables in ``nft -j list tables ip`` output."""
    return family_tables(nft_json, "ip")


def table_is_pristine(nft_json, table):
    """Whether ``nft -j list table <ip|ip6> <table>`` shows nothing but built-in base chains with
    policy accept: no rule, no user chain, no set, map or other object."""
    for kind, body in _objects(nft_json):
        if kind == "table":
            continue
        if (kind == "chain" and body.get("name") in BUILTIN_CHAINS.get(table, ())
                and body.get("hook") and body.get("policy") == "accept"):
            continue
        return False
    return True


class NftTables:
    """The ``ip`` (or ``ip6``) tables of the nft backend, looked at and deleted with the ``nft``
    command."""

    def __init__(self, module, family="ip"):
        self.module = module
        self.family = family
        self.nft = module.get_bin_path("nft")

    def _run(self, argv):
        rc, out, err = self.module.run_command([self.nft] + argv)
        if rc != 0:
            raise iptables.IptablesError("%s %s failed (rc=%d): %s"
                                         % (self.nft, " ".join(argv), rc, err.strip()))
        return out

    def _list(self, argv, parse, *args):
        out = self._run(argv)
        try:
            return parse(out, *args)
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            raise iptables.IptablesError("cannot read the output of %s %s: %s"
                                         % (self.nft, " ".join(argv), exc))

    def exists(self, table):
        """True/False, or None when there is no ``nft`` command to ask."""
        if not self.nft:
            return None
        return table in self._list(["-j", "list", "tables", self.family], family_tables,
                                   self.family)

    def delete_if_pristine(self, table):
        """Delete ``<family> <table>`` when it holds only empty built-in chains with policy
        accept.

        Returns whether it was deleted.  Another tool adding a rule between the listing and the
        delete would lose it; the window is one process start.
        """
        if not self.nft or not self.exists(table):
            return False
        if not self._list(["-j", "list", "table", self.family, table], table_is_pristine, table):
            return False
        self._run(["delete", "table", self.family, table])
        return True


# --- the owned chain, reconciled --------------------------------------------------------------

def read_owned(backend, chain, records, adopt):
    """``chain``'s ChainState as ``backend`` reads it; IptablesError when a chain of that name
    exists that is not ours (see foreign_chain_error)."""
    before = backend.read(chain)
    error = foreign_chain_error(chain, before, records.get(backend.record_key, chain), adopt,
                                records.path, backend.command)
    if error:
        raise iptables.IptablesError(error)
    return before


class ChainJob:
    """One owned chain of one family as a module wants it: where, which rules, whether it is to
    exist; ``sync`` fills ``changed``, ``before`` and ``after`` (ChainStates)."""

    def __init__(self, title, backend, chain, rules, present):
        self.title = title
        self.backend = backend
        self.chain = chain
        self.rules = rules
        self.present = present
        self.before = self.after = None
        self.changed = False

    def sync(self, check_mode, records, adopt, before=None):
        self.changed, self.before, self.after = sync(
            self.backend, self.chain, self.rules, self.present, check_mode, records, adopt, before)

    def rule_lines(self):
        return ["-A %s %s" % (self.chain.name, rule) for rule in self.after.rules]


def read_all_owned(jobs, records, adopt):
    """Each job's chain as read_owned() reads it, in order: every chain a module manages is
    checked for a foreign owner before any of them changes."""
    return [read_owned(job.backend, job.chain, records, adopt) for job in jobs]


def sync(backend, chain, rules, present, check_mode, records, adopt, before=None):
    """iptables.sync() with ownership: refuse a foreign chain, record a chain before creating
    it, forget it (and delete a table we created, nft only) on absent.

    ``before``: the state read_owned() returned, for a caller that checks every chain it
    manages before it changes any (read again when None).
    Returns (changed, before, after); recording or forgetting a chain counts as a change.
    """
    if before is None:
        before = read_owned(backend, chain, records, adopt)
    record = records.get(backend.record_key, chain)
    wanted = iptables.wanted_state(rules, present)
    bookkeeping = (record is None) if present else (record is not None)
    if before == wanted and not bookkeeping:
        return False, before, before
    if check_mode:
        return True, before, wanted

    if present:
        if record is None:
            existed = None  # legacy: a kernel module's table, never deleted
            if backend.name == "nft":
                existed = before.exists or NftTables(backend.module, backend.nft_family).exists(
                    chain.table)
            records.add(backend.record_key, chain, existed)
        after = before if before == wanted else iptables.write(backend, chain, wanted, before)
        return True, before, after

    after = before if before == wanted else iptables.write(backend, chain, wanted, before)
    if record is not None and record.get("table_existed") is False and backend.name == "nft":
        tables = NftTables(backend.module, backend.nft_family)
        if tables.nft is None:
            backend.module.warn("table %s %s was created by the collection but is left in place: "
                                "deleting it needs the nft command (nftables package)"
                                % (backend.nft_family, chain.table))
        else:
            tables.delete_if_pristine(chain.table)
    records.drop(backend.record_key, chain)
    return True, before, after
