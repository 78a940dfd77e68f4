# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way a step tells its caller (a module's main, or host_network) that it cannot go on."""

from __future__ import annotations


class StepFailed(Exception):
    """The message says what and why, ready for ``fail_json(msg=...)``."""


def exit_with(module, step):
    """End ``module`` with the result of ``step()`` (a step's ``run``), or fail with its message."""
    try:
        result = step()
    except StepFailed as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)
