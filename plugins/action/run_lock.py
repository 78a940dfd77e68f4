# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of crossnet.routed.run_lock: record who runs the play, break a dead run's lease.

The lease lives on the managed host, but the process that owns it (ansible-playbook) lives on
the controller, so only the controller can tell whether that run is still alive.  This plugin
passes the module the identity of this run's controller process and, while another run's lease
keeps the host, checks between short waits whether that run's controller is gone (same
controller host, its process exited or replaced): then it breaks exactly that lease.
"""

from __future__ import annotations

import os
import socket
import time

from ansible.plugins.action import ActionBase

from ansible_collections.crossnet.routed.plugins.module_utils import runlock

MODULE = "crossnet.routed.run_lock"
DEFAULT_TIMEOUT = 60
# A waiting run asks the host again this often, and looks at the holder's controller each time.
SLICE = 5


def controller_identity():
    """This run's controller process: the ansible-playbook process that forked this worker."""
    identity = runlock.process_identity(os.getppid())
    identity["host"] = socket.gethostname()
    return identity


def holder_is_dead(lease, me):
    """Whether the run holding ``lease`` is surely gone: only judged for our own machine."""
    controller = (lease or {}).get("controller") or {}
    if not isinstance(controller, dict) or controller.get("host") != me["host"]:
        return False
    if controller.get("pid") == me["pid"] and controller.get("started") == me["started"]:
        return False  # this very run (another owner name in the same process)
    return runlock.process_gone(controller)


class ActionModule(ActionBase):

    _VALID_ARGS = frozenset(("owner", "state", "timeout", "ttl", "path", "controller", "break_owner"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        if args.get("state", "acquired") != "acquired":
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
            return result

        me = controller_identity()
        args.setdefault("controller", me)
        timeout = int(args.get("timeout", DEFAULT_TIMEOUT))
        deadline = time.monotonic() + timeout
        while True:
            left = max(0, int(deadline - time.monotonic() + 0.999))
            outcome = self._execute_module(module_name=MODULE, task_vars=task_vars,
                                           module_args=dict(args, timeout=min(left, SLICE)))
            holder = outcome.get("lease") if outcome.get("held") else None
            if holder is None:
                break
            if holder_is_dead(holder, me):
                outcome = self._execute_module(
                    module_name=MODULE, task_vars=task_vars,
                    module_args=dict(args, timeout=0, break_owner=holder.get("owner")))
                if not outcome.get("held"):
                    if "broken" in outcome or self._task.check_mode:
                        outcome.setdefault("broken", holder)
                        self._display.warning(
                            "%s: broke the crossnet lease of run %r, whose controller process %s on "
                            "%s is gone" % (task_vars.get("inventory_hostname"), holder.get("owner"),
                                            holder["controller"].get("pid"), me["host"]))
                    break
                continue  # someone else took it meanwhile: look at the new holder
            if left <= 0:
                outcome["msg"] = "another crossnet run holds this host: %s; waited %d s" % (
                    runlock.describe(holder), timeout)
                break
        result.update(outcome)
        return result
