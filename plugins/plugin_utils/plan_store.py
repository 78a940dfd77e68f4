# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One plan per run, kept on the controller for the hosts that apply it.

The role plans the whole inventory once (the network_plan filter, ``run_once``) and writes each
host's part of it here; each host's ``host_network`` action then reads its own part, and
nothing plans the inventory again.  The parts live in a directory of their own inside Ansible's
per-process local temporary directory (``DEFAULT_LOCAL_TMP``): it is made by ansible-playbook
before it forks its workers, shared by all of them, private to the user, and removed when
ansible-playbook exits, so a plan never outlives its run.
"""

from __future__ import annotations

import json
import os
import tempfile

from ansible import constants as C

PREFIX = "crossnet-plan-"


def write(parts):
    """Write ``{host: part}`` (JSON-able) to a new directory; returns the directory."""
    directory = tempfile.mkdtemp(prefix=PREFIX, dir=C.DEFAULT_LOCAL_TMP)
    for host, part in parts.items():
        with open(os.path.join(directory, _filename(host)), "w", encoding="utf-8") as handle:
            json.dump(part, handle, separators=(",", ":"))
    return directory


def read(directory, host):
    """Host ``host``'s part from ``directory``; raises ValueError when there is none."""
    if not isinstance(directory, str) or not os.path.basename(directory).startswith(PREFIX):
        raise ValueError("plan.store %r is not a directory the network_plan filter wrote" % (directory,))
    try:
        with open(os.path.join(directory, _filename(host)), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise ValueError("plan.store %s holds no plan for %s: the plan belongs to another run or "
                         "another batch of hosts; plan again" % (directory, host)) from None


def _filename(host):
    # Inventory hostnames may hold '/' or start with '.': the file name must not follow them.
    return "%s.json" % host.encode("utf-8").hex()
