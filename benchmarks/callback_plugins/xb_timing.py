# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark helper: one JSON line per task result (with its controller-side duration) and the
play recap, written to $XB_EVENTS_FILE."""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: xb_timing
type: aggregate
short_description: task durations and the recap as JSON lines in $XB_EVENTS_FILE (benchmarks only)
description: Used by benchmarks/bench.py.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "xb_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._task_start = {}
        self._handle = open(os.environ["XB_EVENTS_FILE"], "a", encoding="utf-8")

    def _write(self, document):
        self._handle.write(json.dumps(document, default=str) + "\n")
        self._handle.flush()

    def v2_playbook_on_start(self, playbook):
        self._write({"event": "start", "time": time.time()})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_start[task._uuid] = time.time()

    def v2_playbook_on_handler_task_start(self, task):
        self._task_start[task._uuid] = time.time()

    def _result(self, result, status):
        task = result._task
        now = time.time()
        self._write({
            "event": "result", "status": status, "host": result._host.get_name(),
            "task": task.get_name(), "action": task.action,
            "changed": bool(result._result.get("changed", False)),
            "start": self._task_start.get(task._uuid, now), "end": now,
            "msg": str(result._result.get("msg", ""))[:2000] if status == "failed" else None,
            # The controller's planning: the role's plan step and host_network's part reads.
            "plan_stats": ((result._result.get("ansible_facts") or {}).get("container_network_plan") or {}).get("stats"),
            "plan_seconds": result._result.get("plan_seconds"),
        })

    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        recap = {host: stats.summarize(host) for host in sorted(stats.processed)}
        self._write({"event": "recap", "time": time.time(), "recap": recap})
        self._handle.close()
