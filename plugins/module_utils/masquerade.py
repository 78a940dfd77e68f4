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


def render_diff(jobs):
    """Ansible's diff dict for the synced ``jobs``: one header naming every table shown, and
    when there are several, a comment line above each table's lines."""
    header = "; ".join(job.title for job in jobs)

    def text(state):
        out = ""
        for job in jobs:
            if len(jobs) > 1:
                out += "# %s\n" % job.title
            out += "".join(line + "\n" for line in getattr(job, state).lines(job.chain))
        return out

    return dict(before_header=header, after_header=header, before=text("before"), after=text("after"))


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
        jobs = [iptables_state.ChainJob("iptables -t nat (%s): %s" % (backend.name, chain.name), backend, chain,
                                        rules[4], bool(rules[4]))]
        if backend6:
            jobs.append(iptables_state.ChainJob("ip6tables -t nat (%s): %s" % (backend6.name, chain.name),
                                                backend6, chain, rules[6], bool(rules[6])))
        for job, before in zip(jobs, iptables_state.read_all_owned(jobs, records, params["adopt"])):
            job.sync(check_mode, records, params["adopt"], before)
    except iptables.IptablesError as exc:
        raise StepFailed(str(exc)) from exc
    except (OSError, ValueError) as exc:
        raise StepFailed("cannot read or write the iptables state file: %s" % exc) from exc

    result = dict(
        changed=any(job.changed for job in jobs),
        rules=jobs[0].rule_lines(),
        rules6=jobs[1].rule_lines() if backend6 else [],
        backend=backend.name,
        chain=chain.name,
    )
    if diff:
        # The IPv6 table is shown when it holds or held something of ours.
        empty = iptables.ChainState()
        result["diff"] = render_diff([job for job in jobs
                                      if job is jobs[0] or job.before != empty or job.after != empty])
    return result
