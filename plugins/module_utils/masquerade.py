# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The masquerade module's work: its rules in the chain it owns in table nat."""

from __future__ import annotations

from ansible_collections.crossnet.routed.plugins.module_utils import iptables, iptables_state
from ansible_collections.crossnet.routed.plugins.module_utils.failure import StepFailed
from ansible_collections.crossnet.routed.plugins.module_utils.names import ifname_error


def run(module, params, check_mode, diff):
    """``module`` runs the iptables commands; ``params`` as the argument spec gives them."""
    present = params["state"] == "present"
    chain = iptables.NAT_CHAIN
    rules = []
    if present:
        out_interface = params.get("out_interface")
        if out_interface is not None and ifname_error(out_interface):
            raise StepFailed("out_interface %r %s" % (out_interface, ifname_error(out_interface)))
        try:
            sources = [iptables.ipv4_cidr(s) for s in params["sources"]]
            exclude = [iptables.ipv4_cidr(e) for e in params["exclude"]]
        except ValueError as exc:
            raise StepFailed(str(exc)) from exc
        rules = iptables.unique(iptables.masquerade_rules(sources, exclude, out_interface))
    try:
        records = iptables_state.Records(params["state_dir"])
        backend = iptables.Backend.find(module, params["backend"])
        changed, before, after = iptables_state.sync(backend, chain, rules, present, check_mode, records,
                                                     params["adopt"])
    except iptables.IptablesError as exc:
        raise StepFailed(str(exc)) from exc
    except (OSError, ValueError) as exc:
        raise StepFailed("cannot read or write the iptables state file: %s" % exc) from exc
    result = dict(
        changed=changed,
        rules=["-A %s %s" % (chain.name, rule) for rule in after.rules],
        backend=backend.name,
        chain=chain.name,
    )
    if diff:
        header = "iptables -t nat (%s): %s" % (backend.name, chain.name)
        result["diff"] = dict(
            before_header=header,
            after_header=header,
            before="".join(line + "\n" for line in before.lines(chain)),
            after="".join(line + "\n" for line in after.lines(chain)),
        )
    return result
