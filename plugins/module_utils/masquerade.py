# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The masquerade module's work: its rules in the chain it owns in table nat, per family.

IPv4 entries of ``sources``/``exclude`` go to iptables' nat ``CROSSNET-POSTROUTING``, IPv6 ones
to ip6tables' chain of the same name.  A family without sources has no chain.  A host without
ip6tables (or whose kernel has IPv6 disabled) that is asked for no IPv6 source is left alone
on that side, so hosts that never had IPv6 keep working as before.
"""

from __future__ import annotations

from ansible_collections.crossnet.routed.plugins.module_utils import iptables, iptables_state
from ansible_collections.crossnet.routed.plugins.module_utils.failure import StepFailed
from ansible_collections.crossnet.routed.plugins.module_utils.names import ifname_error


def split(params, key):
    """(IPv4, IPv6) CIDRs of ``params[key]``; StepFailed on an entry of neither family."""
    try:
        return iptables.split_families(params.get(key) or [])
    except ValueError as exc:
        raise StepFailed("%s: %s" % (key, exc)) from exc


def render_diff(parts):
    """Ansible's diff dict for ``parts`` [(header, chain, before, after)]: one header naming
    every table shown, and when there are several, a comment line above each table's lines."""
    header = "; ".join(part[0] for part in parts)
    several = len(parts) > 1

    def text(index):
        out = ""
        for title, chain, before, after in parts:
            if several:
                out += "# %s\n" % title
            out += "".join(line + "\n" for line in (before, after)[index].lines(chain))
        return out

    return dict(before_header=header, after_header=header, before=text(0), after=text(1))


def run(module, params, check_mode, diff):
    """``module`` runs the iptables commands; ``params`` as the argument spec gives them
    (``sources``, ``exclude`` and ``out_interface`` may be left out when state is absent)."""
    present = params["state"] == "present"
    chain = iptables.NAT_CHAIN
    rules = {4: [], 6: []}
    if present:
        out_interface = params.get("out_interface")
        if out_interface is not None and ifname_error(out_interface):
            raise StepFailed("out_interface %r %s" % (out_interface, ifname_error(out_interface)))
        sources4, sources6 = split(params, "sources")
        exclude4, exclude6 = split(params, "exclude")
        # A family without sources masquerades nothing: no chain, its exclusions are moot.
        if sources4:
            rules[4] = iptables.unique(iptables.masquerade_rules(sources4, exclude4, out_interface))
        if sources6:
            rules[6] = iptables.unique(iptables.masquerade_rules(sources6, exclude6, out_interface))
    try:
        records = iptables_state.Records(params["state_dir"])
        backend = iptables.Backend.find(module, params["backend"])
        backend6 = iptables.ipv6_backend(module, params["backend"], bool(rules[6]),
                                         "masquerading IPv6 sources needs ip6tables")
        jobs = [(backend, rules[4])] + ([(backend6, rules[6])] if backend6 else [])
        # Every chain is checked for a foreign owner before either family is changed.
        befores = [iptables_state.read_owned(b, chain, records, params["adopt"]) for b, dummy in jobs]
        outcomes = []
        for (job_backend, job_rules), before in zip(jobs, befores):
            outcomes.append(iptables_state.sync(job_backend, chain, job_rules, bool(job_rules),
                                                check_mode, records, params["adopt"], before))
    except iptables.IptablesError as exc:
        raise StepFailed(str(exc)) from exc
    except (OSError, ValueError) as exc:
        raise StepFailed("cannot read or write the iptables state file: %s" % exc) from exc

    after4 = outcomes[0][2]
    after6 = outcomes[1][2] if backend6 else iptables.ChainState()
    result = dict(
        changed=any(outcome[0] for outcome in outcomes),
        rules=["-A %s %s" % (chain.name, rule) for rule in after4.rules],
        rules6=["-A %s %s" % (chain.name, rule) for rule in after6.rules],
        backend=backend.name,
        chain=chain.name,
    )
    if diff:
        parts = [("iptables -t nat (%s): %s" % (backend.name, chain.name), chain,
                  outcomes[0][1], after4)]
        # The IPv6 table is shown when it holds or held something of ours.
        if backend6 and (outcomes[1][1] != iptables.ChainState() or after6 != iptables.ChainState()):
            parts.append(("ip6tables -t nat (%s): %s" % (backend6.name, chain.name), chain,
                          outcomes[1][1], after6))
        result["diff"] = render_diff(parts)
    return result
