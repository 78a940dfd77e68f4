# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""net.ipv4.ip_forward: the runtime value, its persisted file and the value it had before us."""

from __future__ import annotations

import os
import tempfile

from ansible_collections.crossnet.routed.plugins.module_utils import iptables, iptables_state, statefile
from ansible_collections.crossnet.routed.plugins.module_utils.failure import StepFailed

SYSCTL = "net.ipv4.ip_forward"
# /proc/sys/net belongs to the network namespace of the process that opens it.
PROC_PATH = "/proc/sys/net/ipv4/ip_forward"
DEFAULT_SYSCTL_FILE = "/etc/sysctl.d/60-crossnet.conf"
STATE_NAME = "forwarding.json"


def read_runtime(path=PROC_PATH):
    with open(path, encoding="ascii") as handle:
        return handle.read().strip()


def write_runtime(value, path=PROC_PATH):
    with open(path, "w", encoding="ascii") as handle:
        handle.write("%s\n" % value)


def sysctl_file_content():
    return ("# Managed by the crossnet.routed.forwarding module; state=absent removes this file.\n"
            "%s = 1\n" % SYSCTL)


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


def load_prior(state_dir):
    """The ip_forward value recorded before our first change, or None."""
    document = statefile.load(state_dir, STATE_NAME)
    if isinstance(document, dict) and str(document.get("ip_forward", "")) in ("0", "1"):
        return str(document["ip_forward"])
    return None


def save_prior(state_dir, value):
    statefile.save(state_dir, STATE_NAME, {"ip_forward": value})


def has_state(state_dir):
    return statefile.load(state_dir, STATE_NAME) is not None


def remove_state(state_dir):
    return statefile.remove(state_dir, STATE_NAME)


def plan(present, runtime, file_content, prior, state_exists):
    """What to do, as a dict of steps, given what is on the host now.

    ``prior`` is the recorded value (or None).  The prior value is recorded only together with
    a real change, and only once: a later run must not overwrite the value from before us.
    """
    if present:
        set_runtime = runtime != "1"
        write = file_content != sysctl_file_content()
        return {
            "record_prior": (set_runtime or write) and not state_exists,
            "set_runtime": "1" if set_runtime else None,
            "write_file": write,
            "remove_file": False,
            "remove_state": False,
        }
    return {
        "record_prior": False,
        "set_runtime": prior if prior is not None and runtime != prior else None,
        "write_file": False,
        "remove_file": file_content is not None,
        "remove_state": state_exists,
    }


def describe(runtime, file_path, file_content, chain_lines):
    text = "# runtime\n%s = %s\n# %s\n" % (SYSCTL, runtime, file_path)
    text += file_content if file_content is not None else "(absent)\n"
    text += "# iptables -t filter\n"
    return text + "".join(line + "\n" for line in chain_lines)


def run(module, params, check_mode, diff):
    """The forwarding module's work: ``module`` runs the iptables commands; ``params`` as the
    argument spec gives them; the result dict."""
    present = params["state"] == "present"
    chain = iptables.FORWARD_CHAIN
    sysctl_file, state_dir = params["sysctl_file"], params["state_dir"]

    rules = []
    if present:
        try:
            networks = [iptables.ipv4_cidr(n) for n in params["container_networks"]]
        except ValueError as exc:
            raise StepFailed(str(exc)) from exc
        rules = iptables.unique(iptables.forward_rules(networks))

    try:
        runtime = read_runtime()
        file_content = read_file(sysctl_file)
        prior = load_prior(state_dir)
        steps = plan(present, runtime, file_content, prior, has_state(state_dir))
    except (OSError, ValueError) as exc:
        raise StepFailed("cannot read the forwarding state: %s" % exc) from exc

    try:
        records = iptables_state.Records(state_dir)
        backend = iptables.Backend.find(module, params["backend"])
        if not present:
            # Fail on a foreign chain before ip_forward or the files are touched.
            error = iptables_state.foreign_chain_error(
                chain, backend.read(chain), records.get(backend.name, chain), params["adopt"],
                records.path)
            if error:
                raise iptables.IptablesError(error)
        # Remove the accept rules only after forwarding is off again; add them before it is on.
        if present:
            chain_changed, before, after = iptables_state.sync(
                backend, chain, rules, True, check_mode, records, params["adopt"])
    except iptables.IptablesError as exc:
        raise StepFailed(str(exc)) from exc
    except (OSError, ValueError) as exc:
        raise StepFailed("cannot read or write the iptables state file: %s" % exc) from exc

    new_runtime = steps["set_runtime"] or runtime
    new_content = file_content
    if steps["write_file"]:
        new_content = sysctl_file_content()
    if steps["remove_file"]:
        new_content = None
    if steps["record_prior"]:
        prior = runtime
    try:
        if not check_mode:
            if steps["record_prior"]:
                save_prior(state_dir, runtime)
            if steps["set_runtime"]:
                write_runtime(steps["set_runtime"])
            if steps["write_file"]:
                write_file(sysctl_file, new_content)
            if steps["remove_file"]:
                remove_file(sysctl_file)
    except OSError as exc:
        raise StepFailed("cannot change %s: %s" % (SYSCTL, exc)) from exc

    if not present:
        try:
            chain_changed, before, after = iptables_state.sync(
                backend, chain, [], False, check_mode, records, params["adopt"])
        except iptables.IptablesError as exc:
            raise StepFailed(str(exc)) from exc
        except OSError as exc:
            raise StepFailed("cannot write the iptables state file: %s" % exc) from exc
        if steps["remove_state"] and not check_mode:
            # Last, so that a failed run can be repeated with the prior value still known.
            remove_state(state_dir)

    result = dict(
        changed=chain_changed or any(steps.values()),
        rules=["-A %s %s" % (chain.name, rule) for rule in after.rules],
        ip_forward=new_runtime,
        prior_ip_forward=prior,
        backend=backend.name,
    )
    if diff:
        result["diff"] = dict(
            before=describe(runtime, sysctl_file, file_content, before.lines(chain)),
            after=describe(new_runtime, sysctl_file, new_content, after.lines(chain)),
        )
    return result
