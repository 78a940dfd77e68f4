# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helper: one JSON line per task result in $XR_EVENTS_FILE (host, task, action, status,
changed, msg, and host_network's changed_steps and failed_step), so the reliability cases can tell which task changed or failed on which host."""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: xr_events
type: aggregate
short_description: write task results to $XR_EVENTS_FILE (reliability tests only)
description: Used by tests/reliability/harness.py.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "xr_events"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, result, status):
        raw = result._result
        event = {
            "host": result._host.get_name(),
            "task": result._task.get_name(),
            "action": result._task.action,
            "status": status,
            "changed": bool(raw.get("changed", False)),
            "msg": raw.get("msg", ""),
            # crossnet.routed.host_network runs several steps in one task: which ones changed, failed
            "changed_steps": raw.get("changed_steps", []),
            "failed_step": raw.get("failed_step"),
            "seconds": round(time.monotonic() - self._task_started, 3),
        }
        for key in ("results", "diff"):
            if key in raw:
                event[key] = raw[key]
        with open(os.environ["XR_EVENTS_FILE"], "a", encoding="utf-8") as handle:
            handle.write(json.dumps(event, default=str) + "\n")

    _task_started = 0.0

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_started = time.monotonic()

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")
