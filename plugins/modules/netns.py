#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: netns
short_description: Manage named Linux network namespaces for containers
version_added: "0.1.0"
description:
  - Creates and removes named network namespaces (the ones C(ip netns list) shows, mounted under
    C(/run/netns)).  A namespace it creates has its loopback interface up.
  - The module forks no process and enters no existing namespace.  It reads C(/run/netns), its
    state file (and, before removing a namespace, C(/proc/*/ns/net)), creates namespaces in a thread of its own (as C(ip netns add) does, making
    C(/run/netns) a shared mount first) and unmounts the ones it removes.  Whether C(lo) is still up
    in an existing namespace is checked (and repaired) by M(crossnet.routed.veth_pair), which
    configures the namespace anyway.
  - The module only removes namespaces it created.  It records them in
    C(<state_dir>/netns.json) before creating them, so a run that is killed half way still owns
    what it made.
  - All listed namespaces are reconciled in one call.
options:
  names:
    description:
      - Names of the namespaces.
      - Each must match C(^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$).
    type: list
    elements: str
    required: true
    aliases: [name]
  state:
    description:
      - V(present) creates missing namespaces (with loopback up).
      - V(absent) removes the listed namespaces.
    type: str
    choices: [present, absent]
    default: present
  purge:
    description:
      - With O(state=present), remove namespaces this module created earlier that are not listed.
      - Namespaces the module did not create are never purged.
    type: bool
    default: false
  adopt:
    description:
      - An existing namespace of a listed name that this module did not create makes the module
        fail, unless O(adopt=true), which takes it over (and lets O(state=absent) remove it).
    type: bool
    default: false
  force_remove:
    description:
      - A namespace to be removed (O(state=absent), or O(purge)) that still has a process in it,
        such as a running container, makes the module fail before it changes anything (in check
        mode too), naming the namespace and its processes (pid and command name, the first
        three and how many more).  V(true) removes it anyway; the processes keep running in the
        namespace, which has no name any more (its veth pair stays until it is removed).
      - A process is in a namespace when its C(/proc/<pid>/ns/net) is the namespace's file (same
        device and inode); C(/proc) entries that cannot be read are skipped.
    type: bool
    default: false
  state_dir:
    description:
      - Directory of the collection's state files.
    type: path
    default: /var/lib/crossnet
extends_documentation_fragment:
  - crossnet.routed.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    support: full
    platforms: linux
notes:
  - Removing a namespace destroys the veth peers inside it; the kernel removes the host ends and
    their routes shortly after, all at once.  That is why the role removes namespaces before it
    purges veth pairs at teardown (M(crossnet.routed.veth_pair) tolerates host ends that vanish
    while it runs).
seealso:
  - module: crossnet.routed.veth_pair
author:
  - crossnet.routed contributors (@crossnet)
"""

EXAMPLES = r"""
- name: Namespaces for two containers
  crossnet.routed.netns:
    names: [web1, db1]

- name: Exactly these namespaces; remove the ones this collection made before
  crossnet.routed.netns:
    names: "{{ containers | map(attribute='name') | list }}"
    purge: true

- name: Remove a namespace
  crossnet.routed.netns:
    name: web1
    state: absent

- name: Remove a namespace even while a container still runs in it
  crossnet.routed.netns:
    name: web1
    state: absent
    force_remove: true
"""

RETURN = r"""
namespaces:
  description: The namespaces asked for.
  returned: always
  type: list
  elements: str
  sample: [web1, db1]
created:
  description: Namespaces created (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [db1]
removed:
  description: Namespaces removed (by O(state=absent) or O(purge)).
  returned: always
  type: list
  elements: str
  sample: []
adopted:
  description: Existing namespaces taken over with O(adopt=true).
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crossnet.routed.plugins.module_utils import netns
from ansible_collections.crossnet.routed.plugins.module_utils.failure import exit_with


def main():
    module = AnsibleModule(
        argument_spec=dict(
            names=dict(type="list", elements="str", required=True, aliases=["name"]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            purge=dict(type="bool", default=False),
            adopt=dict(type="bool", default=False),
            force_remove=dict(type="bool", default=False),
            state_dir=dict(type="path", default="/var/lib/crossnet"),
        ),
        supports_check_mode=True,
    )
    exit_with(module, lambda: netns.run(module.params, module.check_mode, module._diff))


if __name__ == "__main__":
    main()
