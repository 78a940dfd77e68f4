# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Forwarding for the containers: sysctls (runtime, persisted file, prior values) and chains.

IPv4: ``net.ipv4.ip_forward=1`` and iptables' filter ``CROSSNET-FORWARD``.

IPv6, when an IPv6 container network is listed: ``net.ipv6.conf.all.forwarding=1`` and
ip6tables' filter ``CROSSNET-FORWARD``.  Forwarding on makes the kernel ignore router
advertisements on interfaces whose ``accept_ra`` is 1 (and drop the default routes it learnt
from them), so each listed ``accept_ra_interfaces`` entry at 1 becomes 2 first.  IPv6 has no
rp_filter: ip6tables' raw ``CROSSNET-PREROUTING`` drops, per ``source_check_interfaces`` entry,
what arrives from a source not routed back through that interface (``-m rpfilter --invert``).

``state_dir/forwarding.json`` keeps every value from before the module first changed it::

    {"ip_forward": "0", "ipv6_forwarding": "0", "accept_ra": {"eth0": "1"}}

It is written before the change, a value is recorded once (a later run never overwrites it),
and it is put back on ``absent``; IPv6 values also when IPv6 is no longer listed (an interface:
when it is no longer listed).
"""

from __future__ import annotations

import os
import tempfile

from ansible_collections.crossnet.routed.plugins.module_utils import iptables, iptables_state, statefile
from ansible_collections.crossnet.routed.plugins.module_utils.failure import StepFailed
from ansible_collections.crossnet.routed.plugins.module_utils.names import ifname_error

SYSCTL = "net.ipv4.ip_forward"
SYSCTL6 = "net.ipv6.conf.all.forwarding"
# /proc/sys/net belongs to the network namespace of the process that opens it.
PROC_PATH = "/proc/sys/net/ipv4/ip_forward"
PROC_PATH6 = "/proc/sys/net/ipv6/conf/all/forwarding"
ACCEPT_RA_PATH = "/proc/sys/net/ipv6/conf/%s/accept_ra"
DEFAULT_SYSCTL_FILE = "/etc/sysctl.d/60-crossnet.conf"
STATE_NAME = "forwarding.json"
HEADER = "# Managed by the crossnet.routed.forwarding module; state=absent removes this file.\n"
# accept_ra 2: router advertisements are accepted even with forwarding on.
ACCEPT_RA_KEEP = "2"


def accept_ra_key(ifname):
    """The sysctl name of ``ifname``'s accept_ra, as sysctl.d and sysctl(8) read it: with dots
    as separators the dots of a name such as ``eth0.100`` are written as slashes."""
    return "net.ipv6.conf.%s.accept_ra" % ifname.replace(".", "/")


# --- runtime values and the file ----------------------------------------------------------------

def read_runtime(path=PROC_PATH):
    with open(path, encoding="ascii") as handle:
        return handle.read().strip()


def read_optional(path):
    """The value at ``path``, or None when it does not exist (no IPv6, no such interface)."""
    try:
        return read_runtime(path)
    except FileNotFoundError:
        return None


def write_runtime(value, path=PROC_PATH):
    with open(path, "w", encoding="ascii") as handle:
        handle.write("%s\n" % value)


def runtime_path(key):
    """The /proc/sys path of a plan key: ``ip_forward``, ``ipv6_forwarding`` or
    ``("accept_ra", ifname)``."""
    if key == "ip_forward":
        return PROC_PATH
    if key == "ipv6_forwarding":
        return PROC_PATH6
    return ACCEPT_RA_PATH % key[1]


def key_name(key):
    """The sysctl name of a plan key, for messages and the diff."""
    if key == "ip_forward":
        return SYSCTL
    if key == "ipv6_forwarding":
        return SYSCTL6
    return accept_ra_key(key[1])


def sysctl_file_content(ipv6_forwarding=False, accept_ra=()):
    """The persisted file: ip_forward, IPv6 forwarding when it is on, then accept_ra 2 for each
    interface in ``accept_ra`` (set before forwarding at runtime; at boot an interface's line
    applies when the interface appears)."""
    text = HEADER + "%s = 1\n" % SYSCTL
    if ipv6_forwarding:
        text += "%s = 1\n" % SYSCTL6
    for ifname in accept_ra:
        text += "%s = %s\n" % (accept_ra_key(ifname), ACCEPT_RA_KEEP)
    return text


def read_file(path):
    """The file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_file(path, content):
    """Replace ``path`` atomically with ``content``, mode 0644 (sysctl.d files are public)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove_file(path):
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


# --- the recorded prior values ------------------------------------------------------------------

def normalise_state(document):
    """forwarding.json's document with only well-formed entries: ``ip_forward`` and
    ``ipv6_forwarding`` "0"/"1", ``accept_ra`` {ifname: "0".."2"}."""
    if not isinstance(document, dict):
        return {}
    state = {}
    for key in ("ip_forward", "ipv6_forwarding"):
        if str(document.get(key, "")) in ("0", "1"):
            state[key] = str(document[key])
    accept_ra = document.get("accept_ra")
    if isinstance(accept_ra, dict):
        # A name that is no interface name would make a path outside net/ipv6/conf.
        kept = {name: str(value) for name, value in accept_ra.items()
                if str(value) in ("0", "1", "2") and not ifname_error(name)}
        if kept:
            state["accept_ra"] = kept
    return state


def load_state(state_dir):
    """The recorded values (normalise_state), or None when forwarding.json does not exist."""
    document = statefile.load(state_dir, STATE_NAME)
    return None if document is None else normalise_state(document)


def save_state(state_dir, state):
    statefile.save(state_dir, STATE_NAME, state)


def load_prior(state_dir):
    """The ip_forward value recorded before our first change, or None."""
    return (load_state(state_dir) or {}).get("ip_forward")


def save_prior(state_dir, value):
    save_state(state_dir, {"ip_forward": value})


def has_state(state_dir):
    return statefile.load(state_dir, STATE_NAME) is not None


def remove_state(state_dir):
    return statefile.remove(state_dir, STATE_NAME)


# --- the plan -------------------------------------------------------------------------------------

def plan_accept_ra(wanted, interfaces, current, recorded):
    """Pure: the accept_ra part.  ``wanted``: whether IPv6 forwarding is to be on; ``interfaces``
    the listed names; ``current`` {ifname: value or None (no such interface)} for every listed
    and recorded name; ``recorded`` {ifname: prior value}.

    Returns (protect, restore, records, persist): ``protect`` [(ifname, "2")] to write before
    forwarding goes on, ``restore`` [(ifname, prior)] to write after it went off (or for names
    no longer listed), ``records`` the recorded values after the run, ``persist`` the names
    whose ``accept_ra = 2`` line the sysctl file holds.
    """
    listed = list(interfaces) if wanted else []
    protect, restore, records, persist = [], [], {}, []
    for ifname in listed:
        value = current.get(ifname)
        if value == "1":
            protect.append((ifname, ACCEPT_RA_KEEP))
            records[ifname] = recorded.get(ifname, value)
        elif ifname in recorded:
            # Ours, as we left it (2) or changed by hand since (0): recorded once, kept.
            records[ifname] = recorded[ifname]
        if ifname in records:
            persist.append(ifname)
    for ifname, prior in sorted(recorded.items()):
        if ifname in listed:
            continue
        value = current.get(ifname)
        if value is not None and value != prior:
            restore.append((ifname, prior))
    return protect, restore, records, persist


def _restore(key, prior, value):
    """The write that puts ``prior`` back, if it is known and the value is there and differs."""
    return [(key, prior)] if prior is not None and value is not None and value != prior else []


def plan(present, current, file_content, state, want6=False, accept_ra_interfaces=()):
    """Pure: what to do, given what is on the host now.

    ``current``: {"ip_forward": value, "ipv6_forwarding": value or None (no IPv6 in the
    kernel), "accept_ra": {ifname: value or None}} (accept_ra of every listed and recorded
    interface); ``file_content``: the sysctl file or None; ``state``: the recorded values
    (normalise_state) or None when forwarding.json does not exist; ``want6``: an IPv6 network
    is listed (present only).

    A prior value is recorded only together with a real change (of the value, or of the file
    that persists it), and only once: a later run must not overwrite the value from before us.

    Returns a dict:
      writes: [(key, value)] runtime writes in this order (key ``ip_forward``,
              ``ipv6_forwarding`` or ``("accept_ra", ifname)``): accept_ra 2 before IPv6
              forwarding goes on (the kernel drops the RA default routes of interfaces with
              accept_ra 1 when it does), accept_ra back after IPv6 forwarding went back;
      record: the state to save before any write, or None (nothing new to record);
      final: "save" or "remove" forwarding.json at the end, or None; state: what it holds then;
      prior: the recorded values once recorded (reported, predicted in check mode);
      content: the sysctl file after (None: removed);
      after: the runtime values after, shaped as ``current``;
      changed: whether anything changes.
    """
    recorded = dict(state or {})
    recorded_ra = dict(recorded.get("accept_ra", {}))
    current_ra = current.get("accept_ra", {})
    runtime, runtime6 = current["ip_forward"], current.get("ipv6_forwarding")
    record = dict(recorded)
    writes = []
    if present:
        protect, restore_ra, records_ra, persist = plan_accept_ra(
            want6, accept_ra_interfaces, current_ra, recorded_ra)
        content = sysctl_file_content(want6, persist)
        set4 = runtime != "1"
        if "ip_forward" not in recorded and (set4 or content != file_content):
            record["ip_forward"] = runtime
        writes += [(("accept_ra", ifname), value) for ifname, value in protect]
        if want6:
            set6 = runtime6 != "1"
            line6 = "%s = 1" % SYSCTL6 in (file_content or "").splitlines()
            if "ipv6_forwarding" not in recorded and (set6 or not line6):
                record["ipv6_forwarding"] = runtime6
            if set6:
                writes.append(("ipv6_forwarding", "1"))
        else:
            writes += _restore("ipv6_forwarding", recorded.get("ipv6_forwarding"), runtime6)
        if set4:
            writes.append(("ip_forward", "1"))
        writes += [(("accept_ra", ifname), value) for ifname, value in restore_ra]
        if records_ra:
            record["accept_ra"] = dict(recorded_ra, **records_ra)
        final_state = dict(record)
        if not want6:
            final_state.pop("ipv6_forwarding", None)
        final_state.pop("accept_ra", None)
        if records_ra:
            final_state["accept_ra"] = records_ra
    else:
        content = None
        writes += _restore("ip_forward", recorded.get("ip_forward"), runtime)
        writes += _restore("ipv6_forwarding", recorded.get("ipv6_forwarding"), runtime6)
        for ifname, prior in sorted(recorded_ra.items()):
            writes += _restore(("accept_ra", ifname), prior, current_ra.get(ifname))
        final_state = {}

    save_first = record if record != recorded else None
    on_disk = save_first if save_first is not None else state
    final = None
    if final_state and final_state != on_disk:
        final = "save"
    elif not final_state and on_disk is not None:
        final = "remove"

    after = {"ip_forward": runtime, "ipv6_forwarding": runtime6, "accept_ra": dict(current_ra)}
    for key, value in writes:
        if isinstance(key, tuple):
            after["accept_ra"][key[1]] = value
        else:
            after[key] = value
    changed = bool(writes) or content != file_content or save_first is not None or final is not None
    return {"writes": writes, "record": save_first, "final": final, "state": final_state,
            "prior": record, "content": content, "after": after, "changed": changed}


# --- the module's work ----------------------------------------------------------------------------

def describe(values, accept_ra_names, file_path, content, sections):
    """The diff text: runtime values, the sysctl file, then our lines of each table."""
    text = "# runtime\n%s = %s\n" % (SYSCTL, values["ip_forward"])
    if values.get("ipv6_forwarding") is not None:
        text += "%s = %s\n" % (SYSCTL6, values["ipv6_forwarding"])
    for ifname in accept_ra_names:
        value = values["accept_ra"].get(ifname)
        text += "%s = %s\n" % (accept_ra_key(ifname), "(no such interface)" if value is None else value)
    text += "# %s\n" % file_path
    text += content if content is not None else "(absent)\n"
    for title, lines in sections:
        text += "# %s\n" % title
        text += "".join(line + "\n" for line in lines)
    return text


def _interfaces(params, key):
    names = iptables.unique(params.get(key) or [])
    bad = ["%s: interface %r %s" % (key, name, ifname_error(name)) for name in names if ifname_error(name)]
    if bad:
        raise StepFailed("; ".join(bad))
    return names


def run(module, params, check_mode, diff):
    """The forwarding module's work: ``module`` runs the iptables commands; ``params`` as the
    argument spec gives them (``accept_ra_interfaces`` and ``source_check_interfaces`` may be
    left out: none); the result dict."""
    present = params["state"] == "present"
    sysctl_file, state_dir, adopt = params["sysctl_file"], params["state_dir"], params["adopt"]

    networks4, networks6, accept_ra_listed, check_listed = [], [], [], []
    if present:
        try:
            networks4, networks6 = iptables.split_families(params.get("container_networks") or [])
        except ValueError as exc:
            raise StepFailed("container_networks: %s" % exc) from exc
        accept_ra_listed = _interfaces(params, "accept_ra_interfaces")
        check_listed = _interfaces(params, "source_check_interfaces")
    want6 = bool(networks6)
    rules4 = iptables.unique(iptables.forward_rules(networks4))
    rules6 = iptables.unique(iptables.forward_rules(networks6))
    raw_rules = iptables.source_check_rules(check_listed)

    try:
        state = load_state(state_dir)
        file_content = read_file(sysctl_file)
        runtime6 = read_optional(PROC_PATH6)
        if want6 and runtime6 is None:
            raise StepFailed("IPv6 container networks need IPv6 forwarding, and IPv6 is disabled "
                             "in this host's kernel (no %s)" % PROC_PATH6)
        names = iptables.unique(accept_ra_listed + sorted((state or {}).get("accept_ra", {})))
        current = {"ip_forward": read_runtime(), "ipv6_forwarding": runtime6,
                   "accept_ra": {name: read_optional(ACCEPT_RA_PATH % name) for name in names}}
        steps = plan(present, current, file_content, state, want6, accept_ra_listed)
    except (OSError, ValueError) as exc:
        raise StepFailed("cannot read the forwarding state: %s" % exc) from exc

    try:
        records = iptables_state.Records(state_dir)
        backend = iptables.Backend.find(module, params["backend"])
        backend6 = iptables.ipv6_backend(module, params["backend"], bool(rules6 or raw_rules),
                                         "IPv6 container networks and source checks need ip6tables")
        job = iptables_state.ChainJob
        jobs = [job("iptables -t filter", backend, iptables.FORWARD_CHAIN, rules4, present)]
        if backend6 is not None:
            jobs += [job("ip6tables -t filter", backend6, iptables.FORWARD_CHAIN, rules6, bool(rules6)),
                     job("ip6tables -t raw", backend6, iptables.RAW_CHAIN, raw_rules, bool(raw_rules))]
        befores = iptables_state.read_all_owned(jobs, records, adopt)
        # Accept rules and source checks go in before forwarding is on.
        for job, before in zip(jobs, befores):
            if job.present:
                job.sync(check_mode, records, adopt, before)
    except iptables.IptablesError as exc:
        raise StepFailed(str(exc)) from exc
    except (OSError, ValueError) as exc:
        raise StepFailed("cannot read or write the iptables state file: %s" % exc) from exc

    if not check_mode:
        try:
            if steps["record"] is not None:
                save_state(state_dir, steps["record"])
        except OSError as exc:
            raise StepFailed("cannot record the prior values in %s/%s: %s" % (state_dir, STATE_NAME, exc)) from exc
        for key, value in steps["writes"]:
            try:
                write_runtime(value, runtime_path(key))
            except OSError as exc:
                raise StepFailed("cannot set %s to %s: %s" % (key_name(key), value, exc)) from exc
        try:
            if steps["content"] is None:
                remove_file(sysctl_file)
            elif steps["content"] != file_content:
                write_file(sysctl_file, steps["content"])
        except OSError as exc:
            raise StepFailed("cannot write %s: %s" % (sysctl_file, exc)) from exc

    # Chains that go, go after forwarding is off again.
    try:
        for job in jobs:
            if not job.present:
                job.sync(check_mode, records, adopt)
    except iptables.IptablesError as exc:
        raise StepFailed(str(exc)) from exc
    except OSError as exc:
        raise StepFailed("cannot write the iptables state file: %s" % exc) from exc
    if not check_mode:
        # Last, so that a failed run can be repeated with the prior values still known.
        try:
            if steps["final"] == "save":
                save_state(state_dir, steps["state"])
            elif steps["final"] == "remove":
                remove_state(state_dir)
        except OSError as exc:
            raise StepFailed("cannot update %s/%s: %s" % (state_dir, STATE_NAME, exc)) from exc

    prior, after = steps["prior"], steps["after"]
    prior_ra = prior.get("accept_ra", {})
    result = dict(
        changed=steps["changed"] or any(job.changed for job in jobs),
        rules=jobs[0].rule_lines(),
        rules6=[line for job in jobs[1:] for line in job.rule_lines()],
        ip_forward=after["ip_forward"],
        prior_ip_forward=prior.get("ip_forward"),
        ipv6_forwarding=after["ipv6_forwarding"],
        prior_ipv6_forwarding=prior.get("ipv6_forwarding"),
        accept_ra={name: {"before": current["accept_ra"][name], "after": after["accept_ra"][name],
                          "prior": prior_ra.get(name)} for name in names},
        backend=backend.name,
    )
    if diff:
        # The IPv6 tables are shown when they hold or held something of ours.
        shown = [job for job in jobs if job is jobs[0] or job.before.exists or job.after.exists]
        # IPv6 forwarding is shown when the module has anything to do with it.
        ipv6_involved = want6 or "ipv6_forwarding" in prior or "ipv6_forwarding" in (state or {})

        def values(source):
            shown_values = dict(source)
            if not ipv6_involved:
                shown_values["ipv6_forwarding"] = None
            return shown_values

        result["diff"] = dict(
            before=describe(values(current), names, sysctl_file, file_content,
                            [(job.title, job.before.lines(job.chain)) for job in shown]),
            after=describe(values(after), names, sysctl_file, steps["content"],
                           [(job.title, job.after.lines(job.chain)) for job in shown]),
        )
    return result
