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
  - The lease records O(controller), the controller process running the play.  A run whose
    controller was killed leaves its lease behind; the action plugin of this module (on the
    controller) finds that process gone and breaks the lease with O(break_owner), so a dead run
    does not block the next ones.  A lease whose controller cannot be judged (another machine,
    or none recorded) expires after O(ttl) seconds.
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
  controller:
    description:
      - Identifies the controller process of the run, recorded in the lease so that a later run
        can tell whether it still lives.  The action plugin fills it in (C(host), C(pid),
        C(started), C(boot_id)); set it only when calling the module without the action plugin.
    type: dict
  break_owner:
    description:
      - Take the lease over even though it has not expired, but only while O(break_owner) still
        holds it (the caller found that run's controller gone).  The action plugin sets it;
        there is no need to set it by hand.
    type: str
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
  - Whether a holder's controller is gone is judged on the controller, and only for a holder
    whose recorded C(host) is the controller's own host name.
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
  sample:
    owner: 20251129T120000-4242
    expires: 1764441600.0
    controller: {"host": "ctl1", "pid": 4242, "started": "1234567", "boot_id": "6f0c..."}
held:
  description: Whether another run's lease kept this call from taking it (only on failure).
  returned: failure
  type: bool
broken:
  description: The lease of a dead run that was taken over (O(break_owner)).
  returned: when a lease was broken
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.crossnet.routed.plugins.module_utils import runlock


def main():
    module = AnsibleModule(
        argument_spec=dict(
            owner=dict(type="str", required=True),
            state=dict(type="str", choices=["acquired", "released"], default="acquired"),
            timeout=dict(type="int", default=60),
            ttl=dict(type="int", default=1800),
            path=dict(type="path", default=runlock.DEFAULT_LOCK_PATH),
            controller=dict(type="dict"),
            break_owner=dict(type="str"),
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

    break_owner = module.params["break_owner"]
    breaking = runlock.held_by_other(current, owner, time.time()) and current.get("owner") == break_owner
    if module.check_mode:
        if runlock.held_by_other(current, owner, time.time()) and not breaking:
            module.fail_json(msg="another crossnet run holds this host: %s" % runlock.describe(current),
                             lease=current, held=True)
        module.exit_json(changed=False, lease=current or {})
    try:
        lease = runlock.acquire(path, owner, module.params["ttl"], module.params["timeout"],
                                controller=module.params["controller"], break_owner=break_owner)
    except runlock.LockHeld as held:
        module.fail_json(
            msg="another crossnet run holds this host: %s; waited %d s" % (runlock.describe(held.lease), module.params["timeout"]),
            lease=held.lease, held=True,
        )
    # Taking the lease is bookkeeping, not a change to the host's network.
    result = dict(changed=False, lease=lease)
    if breaking:
        result["broken"] = current
    module.exit_json(**result)


if __name__ == "__main__":
    main()
