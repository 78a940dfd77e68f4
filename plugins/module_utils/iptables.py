# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One owned iptables chain, reached by one tagged jump, kept in sync through iptables-restore.

The collection owns whole chains (``CROSSNET-POSTROUTING`` in nat, ``CROSSNET-FORWARD`` in
filter, and for IPv6 also ``CROSSNET-PREROUTING`` in raw).  A sync is one
``iptables-restore --noflush`` transaction: declaring the chain flushes that chain only, its rules
follow, and the jump from the built-in chain is added (at position 1) when missing or
de-duplicated when there are several.  Nothing else in the table is touched: no policy is
declared, no foreign rule is named.

Both families work the same way: a Backend is the save/restore pair of one family (4:
``iptables-<backend>-save/-restore``, 6: ``ip6tables-<backend>-save/-restore``); the chains are
the same objects, the IPv6 ones living in ip6tables' tables of the same names.

Rules are rendered exactly as ``iptables-save``/``ip6tables-save`` print them, so comparing the
rendering with the saved chain tells whether anything has to change.
"""

from __future__ import annotations

import os
import re
import socket

try:
    import netaddr
except ImportError:  # the modules report it through module_utils.requirements
    pass

COMMENT = "crossnet"
BACKENDS = ("nft", "legacy")
RESTORE_WAIT = "--wait=10"
# Writes that do not read back as written are retried from a fresh read (see write()).
WRITE_ATTEMPTS = 3

_IPV4_CIDR = re.compile(r"^\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?$")
_PREFIX_LENGTH = re.compile(r"^\d{1,3}$")
# The command of each family, and the nftables family its nft backend writes into.
COMMANDS = {4: "iptables", 6: "ip6tables"}
NFT_FAMILIES = {4: "ip", 6: "ip6"}


class IptablesError(Exception):
    """A backend is missing or an iptables command failed; the message says which."""


class OwnedChain:
    """A chain we own in ``table`` and the built-in ``parent`` chain that jumps to it."""

    def __init__(self, table, name, parent):
        self.table = table
        self.name = name
        self.parent = parent

    @property
    def jump(self):
        """The jump rule as ``iptables-save`` prints it (without the ``-A <parent>`` prefix)."""
        return "-m comment --comment %s -j %s" % (COMMENT, self.name)

    @property
    def jump_line(self):
        return "-A %s %s" % (self.parent, self.jump)


NAT_CHAIN = OwnedChain("nat", "CROSSNET-POSTROUTING", "POSTROUTING")
FORWARD_CHAIN = OwnedChain("filter", "CROSSNET-FORWARD", "FORWARD")
# IPv6 only: the source check (IPv6 has no rp_filter sysctl), before conntrack sees the packet.
RAW_CHAIN = OwnedChain("raw", "CROSSNET-PREROUTING", "PREROUTING")


# --- rule rendering -------------------------------------------------------------------------

def ipv4_cidr(value):
    """Return ``value`` as the network iptables-save prints (``10.0.0.5/23`` -> ``10.0.0.0/23``,
    a bare address -> ``/32``); raise ValueError for anything that is not an IPv4 address/CIDR.
    """
    text = str(value).strip()
    # netaddr 0.8 (Debian 12) still accepts abbreviated forms such as "10/8" or "10.1".
    if not _IPV4_CIDR.match(text):
        raise ValueError("%r is not an IPv4 address or CIDR (a.b.c.d or a.b.c.d/nn)" % (value,))
    try:
        network = netaddr.IPNetwork(text)
    except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
        raise ValueError("%r is not an IPv4 address or CIDR: %s" % (value, exc))
    if network.version != 4:
        raise ValueError("%r is not an IPv4 address or CIDR" % (value,))
    return str(network.cidr)


def ipv6_cidr(value):
    """Return ``value`` as the network ip6tables-save prints (``fd00:1::5/64`` -> ``fd00:1::/64``,
    a bare address -> ``/128``, compressed as the C library's inet_ntop writes it, which is what
    ip6tables uses); raise ValueError for anything that is not an IPv6 address/CIDR.
    """
    text = str(value).strip()
    address, slash, length = text.partition("/")
    if slash and not (_PREFIX_LENGTH.match(length) and int(length) <= 128):
        raise ValueError("%r is not an IPv6 address or CIDR: the prefix length must be 0 to 128"
                         % (value,))
    try:
        packed = socket.inet_pton(socket.AF_INET6, address)
    except (OSError, ValueError) as exc:
        raise ValueError("%r is not an IPv6 address or CIDR (x:x::x or x:x::x/nn): %s"
                         % (value, exc))
    prefix = int(length) if slash else 128
    number = int.from_bytes(packed, "big") >> (128 - prefix) << (128 - prefix)
    return "%s/%d" % (socket.inet_ntop(socket.AF_INET6, number.to_bytes(16, "big")), prefix)


def split_families(values):
    """(IPv4 CIDRs, IPv6 CIDRs) of a mixed list, each normalised as its save command prints it
    and in the order given; raise ValueError naming the first entry that is neither."""
    ipv4, ipv6 = [], []
    for value in values:
        text = str(value).strip()
        if ":" in text:
            ipv6.append(ipv6_cidr(text))
        elif text and text.replace(".", "").replace("/", "").isdigit():
            ipv4.append(ipv4_cidr(text))
        else:
            raise ValueError("%r is not an IPv4 or IPv6 address or CIDR" % (value,))
    return ipv4, ipv6


def _match(option, cidr):
    # iptables-save and ip6tables-save leave out an address match that matches everything.
    return [] if cidr in ("0.0.0.0/0", "::/0") else [option, cidr]


def masquerade_rules(sources, exclude, out_interface=None):
    """Rules of CROSSNET-POSTROUTING: RETURN for every excluded destination, then MASQUERADE."""
    rules = []
    for cidr in exclude:
        rules.append(" ".join(_match("-d", cidr) + ["-j", "RETURN"]))
    for cidr in sources:
        words = _match("-s", cidr)
        if out_interface:
            words += ["-o", out_interface]
        rules.append(" ".join(words + ["-j", "MASQUERADE"]))
    return rules


def forward_rules(networks):
    """Rules of CROSSNET-FORWARD: accept traffic from and to every container network."""
    rules = []
    for cidr in networks:
        rules.append(" ".join(_match("-s", cidr) + ["-j", "ACCEPT"]))
        rules.append(" ".join(_match("-d", cidr) + ["-j", "ACCEPT"]))
    return rules


def source_check_rules(interfaces):
    """Rules of the IPv6 CROSSNET-PREROUTING (raw): drop what arrives on one of ``interfaces``
    from a source the host would not route back out through that interface (strict reverse
    path filter, as net.ipv4.conf.*.rp_filter=1 does for IPv4)."""
    return ["-i %s -m rpfilter --invert -j DROP" % ifname for ifname in interfaces]


def unique(items):
    """``items`` without repeats, first occurrence kept (duplicate rules would never converge
    with a user who lists a network twice)."""
    seen = set()
    return [item for item in items if not (item in seen or seen.add(item))]


# --- reading iptables-save ------------------------------------------------------------------

class ChainState:
    """What ``iptables-save -t <table>`` says about one owned chain."""

    def __init__(self, exists=False, rules=None, jumps=0):
        self.exists = exists
        self.rules = list(rules or [])
        self.jumps = jumps

    def __eq__(self, other):
        return (self.exists, self.rules, self.jumps) == (other.exists, other.rules, other.jumps)

    def __repr__(self):
        return "ChainState(exists=%r, rules=%r, jumps=%r)" % (self.exists, self.rules, self.jumps)

    def lines(self, chain):
        """Our part of the table as text lines: the jumps, then the chain's rules."""
        return [chain.jump_line] * self.jumps + ["-A %s %s" % (chain.name, r) for r in self.rules]


def parse_save(text, chain):
    """Extract ``chain``'s state from the output of ``iptables-save -t <chain.table>``."""
    state = ChainState()
    in_table = False
    rule_prefix = "-A %s " % chain.name
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("*"):
            in_table = line[1:] == chain.table
        elif not in_table:
            continue
        elif line.split(" ", 1)[0] == ":" + chain.name:
            state.exists = True
        elif line == chain.jump_line:
            state.jumps += 1
        elif line.startswith(rule_prefix):
            state.rules.append(line[len(rule_prefix):])
    return state


def without_owned(text, chain):
    """``iptables-save`` output minus comments, counters and everything we own: what the
    collection must never change (used by the tests, handy for a check in a playbook)."""
    kept = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith(":"):
            name, policy = line[1:].split(" ")[:2]
            if name == chain.name:
                continue
            line = ":%s %s" % (name, policy)
        elif line == chain.jump_line or line.startswith("-A %s " % chain.name):
            continue
        kept.append(line)
    return kept


# --- writing with iptables-restore ------------------------------------------------------------

def restore_present(chain, rules, current):
    """iptables-restore --noflush input that makes ``chain`` hold ``rules`` with one jump."""
    lines = ["*%s" % chain.table, ":%s - [0:0]" % chain.name]
    lines += ["-A %s %s" % (chain.name, rule) for rule in rules]
    if current.jumps == 0:
        lines.append("-I %s 1 %s" % (chain.parent, chain.jump))
    # -D removes the first matching rule: keep the last of the duplicates.
    lines += ["-D %s %s" % (chain.parent, chain.jump)] * max(current.jumps - 1, 0)
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def restore_absent(chain, current):
    """iptables-restore --noflush input that removes our jumps and our chain."""
    lines = ["*%s" % chain.table]
    lines += ["-D %s %s" % (chain.parent, chain.jump)] * current.jumps
    if current.exists:
        # The declaration empties the chain, so that -X may delete it.
        lines += [":%s - [0:0]" % chain.name, "-X %s" % chain.name]
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


# --- the backend ----------------------------------------------------------------------------

# The legacy ip6tables tables that exist in this network namespace, one name a line (missing
# until the ip6_tables module is loaded).
LEGACY_IP6_TABLES = "/proc/net/ip6_tables_names"


def legacy_table_exists(table, path=None):
    """Whether the legacy ip6tables ``table`` exists (True when that cannot be read)."""
    try:
        with open(path or LEGACY_IP6_TABLES, encoding="ascii") as handle:
            return table in handle.read().split()
    except FileNotFoundError:
        return False
    except OSError:
        return True


def backend_from_version(text):
    """``nft`` or ``legacy`` from ``iptables -V`` output (before 1.8 there was only legacy)."""
    if "nf_tables" in text:
        return "nft"
    if "legacy" in text or re.search(r"\bv1\.[0-7]\.", text):
        return "legacy"
    return None


class Backend:
    """The save/-restore pair of one backend and family, run through an AnsibleModule."""

    def __init__(self, module, name, save, restore, family=4):
        self.module = module
        self.name = name
        self.save = save
        self.restore = restore
        self.family = family

    @property
    def command(self):
        """``iptables`` or ``ip6tables``, for messages and diff headers."""
        return COMMANDS[self.family]

    @property
    def nft_family(self):
        """The nftables family the nft backend writes into: ``ip`` or ``ip6``."""
        return NFT_FAMILIES[self.family]

    @property
    def record_key(self):
        """The key of this backend in iptables.json: ``nft``/``legacy`` for IPv4 (as ever),
        ``nft-ip6``/``legacy-ip6`` for IPv6."""
        return self.name if self.family == 4 else "%s-%s" % (self.name, self.nft_family)

    @classmethod
    def find(cls, module, requested="auto", family=4, required=True):
        """Pick the backend: ``auto`` is whatever the host's ``iptables`` (family 4) or
        ``ip6tables`` (family 6; ``iptables`` when there is none) command is.

        ``required=False``: None instead of an error when the commands are not installed (a
        host without ip6tables that is asked for no IPv6 rule).
        """
        command = COMMANDS[family]
        name = requested
        if requested == "auto":
            probe = module.get_bin_path(command)
            if not probe and family == 6:
                probe = module.get_bin_path("iptables")
            if not probe:
                if not required:
                    return None
                raise IptablesError(
                    "the %s command is missing (Debian/Ubuntu: apt install iptables); "
                    "it tells which backend, nft or legacy, this host uses" % command)
            rc, out, err = module.run_command([probe, "-V"])
            name = backend_from_version(out + err)
            if rc != 0 or name is None:
                raise IptablesError("cannot tell the %s backend from '%s -V': %s"
                                    % (command, probe, (out + err).strip()))
        candidates = [("%s-%s-save" % (command, name), "%s-%s-restore" % (command, name))]
        if requested == "auto":
            # Older distributions ship only the unsuffixed pair, which is then the host's backend.
            candidates.append(("%s-save" % command, "%s-restore" % command))
        for save, restore in candidates:
            save_path, restore_path = module.get_bin_path(save), module.get_bin_path(restore)
            if save_path and restore_path:
                return cls(module, name, save_path, restore_path, family)
        if not required:
            return None
        raise IptablesError("the %s %s backend needs %s, not found in PATH or /sbin, "
                            "/usr/sbin, /usr/local/sbin"
                            % (name, command, " and ".join("/".join(pair) for pair in candidates)))

    def read(self, chain):
        if self.name == "legacy" and self.family == 6 and not legacy_table_exists(chain.table):
            # Reading would load ip6table_<table> and create the table in this namespace: a
            # host that never used ip6tables would find one after an IPv4-only run.
            return ChainState()
        rc, out, err = self.module.run_command([self.save, "-t", chain.table])
        if rc != 0:
            raise IptablesError("%s -t %s failed (rc=%d): %s"
                                % (self.save, chain.table, rc, err.strip()))
        return parse_save(out, chain)

    def apply(self, payload):
        rc, out, err = self.module.run_command(
            [self.restore, "--noflush", RESTORE_WAIT], data=payload, binary_data=True)
        if rc != 0:
            raise IptablesError("%s --noflush failed (rc=%d): %s\ninput was:\n%s"
                                % (self.restore, rc, (err or out).strip(), payload))


def wanted_state(rules, present):
    return ChainState(exists=True, rules=rules, jumps=1) if present else ChainState()


def restore_input(chain, wanted, current):
    """The iptables-restore input that turns ``current`` into ``wanted`` (None: nothing to do)."""
    if current == wanted:
        return None
    if wanted.exists:
        return restore_present(chain, wanted.rules, current)
    return restore_absent(chain, current)


def write(backend, chain, wanted, current):
    """Write ``wanted`` over ``current`` and return the state read back.

    The restore input depends on what was read (whether the jump must be inserted, how many
    duplicates to delete), and nothing locks the table between that read and the restore: a
    concurrent writer (another run's teardown on the same host, a user, another tool) that
    deletes the jump or the chain in between makes the restore leave our chain without its
    jump.  So every write is read back, and a mismatch is written again from the fresh read.
    """
    for dummy in range(WRITE_ATTEMPTS):
        backend.apply(restore_input(chain, wanted, current))
        current = backend.read(chain)
        if current == wanted:
            return current
    raise IptablesError(
        "%s %s/%s does not read back as written after %d attempts (something else keeps "
        "changing it, or a rule %s-save prints differently)\nwanted:\n%s\ngot:\n%s"
        % (backend.command, chain.table, chain.name, WRITE_ATTEMPTS, backend.command,
           "\n".join(wanted.lines(chain)), "\n".join(current.lines(chain))))


def sync(backend, chain, rules, present, check_mode):
    """Bring ``chain`` to ``rules`` (present) or remove it; return (changed, before, after),
    where before/after are ChainStates.  In check mode nothing is written and ``after`` is the
    prediction."""
    before = backend.read(chain)
    wanted = wanted_state(rules, present)
    if before == wanted:
        return False, before, before
    if check_mode:
        return True, before, wanted
    return True, before, write(backend, chain, wanted, before)


# --- the IPv6 side -----------------------------------------------------------------------------

# Present when the kernel has IPv6 (absent with ipv6.disable=1).
PROC_IPV6 = "/proc/sys/net/ipv6"


def kernel_has_ipv6(path=PROC_IPV6):
    return os.path.isdir(path)


def ipv6_backend(module, requested, needed, what):
    """The ip6tables Backend, or None when the IPv6 side is to be left alone: nothing IPv6 is
    ``needed`` and the host has no ip6tables commands or no IPv6.  When it is needed (for
    ``what``), a missing ip6tables or IPv6 is an IptablesError."""
    if not kernel_has_ipv6():
        if needed:
            raise IptablesError("%s: IPv6 is disabled in this host's kernel (no %s)"
                                % (what, PROC_IPV6))
        return None
    try:
        return Backend.find(module, requested, family=6, required=needed)
    except IptablesError as exc:
        if needed:
            raise IptablesError("%s: %s" % (what, exc)) from exc
        raise
