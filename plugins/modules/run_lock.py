#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: run_lock
short_description: Keep two crossnet runs against one host from interleaving
description:
  - Takes (O(state=acquired)) or gives back (O(state=released)) a lease on the managed host that
    names the run holding it.  The lease outlives the module call, so a play takes it before its
    first change and gives it back after its last one.
  - A second run that finds the lease held by another owner waits up to O(timeout) seconds,
    then fails with a message naming the holder.
  - A run that dies without giving the lease back leaves one that expires after O(ttl) seconds.
version_added: "0.1.0"
author:
  - crossnet.routed contributors (@crossnet)
options:
  owner:
    description:
      - Identifies the run, the same string for every host of one run.  Taking a lease the same
        owner already holds renews it.
    type: str
    required: true
  state:
    description:
      - V(acquired) takes or renews the lease; V(released) gives it back if O(owner) holds it.
    type: str
    choices: [acquired, released]
    default: acquired
  timeout:
    description: Seconds to wait for a lease that another owner holds.
    type: int
    default: 60
  ttl:
    description: Seconds after which a lease not given back counts as abandoned.
    type: int
    default: 1800
  path:
    description: The lease file.
    type: path
    default: /run/lock/crossnet.lock
extends_documentation_fragment:
  - crossnet.routed.attributes
attributes:
  check_mode:
    support: full
    details: In check mode the lease is only inspected; a lease held by another owner still fails.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
notes:
  - The lease only coordinates runs of this collection; it does not stop other tools.
"""

EXAMPLES = r"""
- name: Take the host's crossnet lease for this run
  crossnet.routed.run_lock:
    owner: "{{ crossnet_run_id }}"
    timeout: 120

- name: Give it back
  crossnet.routed.run_lock:
    owner: "{{ crossnet_run_id }}"
    state: released
"""

RETURN = r"""
lease:
  description: The lease in force after the call, or the one that blocked it.
  returned: always
  type: dict
  sample: {"owner": "a1b2c3", "expires": 1764441600.0, "pid": 4242}
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.crossnet.routed.plugins.module_utils import runlock


def describe(lease):
    left = int(lease.get("expires", 0) - time.time())
    return "run %r (pid %s on this host, lease expires in %d s)" % (lease.get("owner"), lease.get("pid"), left)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            owner=dict(type="str", required=True),
            state=dict(type="str", choices=["acquired", "released"], default="acquired"),
            timeout=dict(type="int", default=60),
            ttl=dict(type="int", default=1800),
            path=dict(type="path", default=runlock.DEFAULT_LOCK_PATH),
        ),
        supports_check_mode=True,
    )
    owner, path = module.params["owner"], module.params["path"]
    current = runlock.read(path)

    if module.params["state"] == "released":
        held = current is not None and current.get("owner") == owner
        if held and not module.check_mode:
            runlock.release(path, owner)
        module.exit_json(changed=held, lease=current or {})

    if module.check_mode:
        if current and current.get("owner") != owner and current.get("expires", 0) > time.time():
            module.fail_json(msg="another crossnet run holds this host: %s" % describe(current), lease=current)
        module.exit_json(changed=False, lease=current or {})
    try:
        lease = runlock.acquire(path, owner, module.params["ttl"], module.params["timeout"])
    except runlock.LockHeld as held:
        module.fail_json(
            msg="another crossnet run holds this host: %s; waited %d s" % (describe(held.lease), module.params["timeout"]),
            lease=held.lease,
        )
    # Taking the lease is bookkeeping, not a change to the host's network.
    module.exit_json(changed=False, lease=lease)


if __name__ == "__main__":
    main()
