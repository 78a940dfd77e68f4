# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helper: write each task's raw result to the JSON-lines file $CROSSNET_RESULT_FILE.

ansible-core no longer ships the ``json`` stdout callback (it lives in ansible.posix, which
Galaxy would have to provide), so the sandbox records results itself.
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: crossnet_result
type: aggregate
short_description: write raw task results to $CROSSNET_RESULT_FILE (tests only)
description: Used by tests/integration/sandbox.py.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "crossnet_result"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, result, **extra):
        document = dict(result._result)
        document.update(extra)
        with open(os.environ["CROSSNET_RESULT_FILE"], "a", encoding="utf-8") as handle:
            handle.write(json.dumps(document, default=str) + "\n")

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, failed=True, unreachable=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)
