# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner's input out of Ansible's ``hostvars``, templated only where it holds a template.

``hostvars[host][name]`` templates the value on access; in ansible-core 2.19 that hands back
lazy containers that template each element as it is read, ~0.1 s per pass over a thousand
containers per host, for inventory data that nearly always holds no template at all.  A value
that is plain data (dicts, lists, strings, numbers, booleans, None) and holds no string that
looks like a template is taken as it is; any other value (a template, a vaulted string) is read
the usual way, templated in the host's own variable context.  (``Templar.is_template`` would
answer exactly, but it templates the whole value to find out: as slow as reading it.)
"""

from __future__ import annotations

from ansible.template import Templar

from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import HOST_VARIABLES

PLAIN = (str, int, float, bool, type(None))


def _plain(value, templar):
    """True if ``value`` is plain data without anything that may be a template."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif not isinstance(item, PLAIN) or templar.is_possibly_template(item):
            return False
    return True


def host_variables(hostvars, hosts, names=HOST_VARIABLES):
    """``{host: {name: value}}`` of the planner's variables (plan.HOST_VARIABLES, or ``names``)
    of ``hosts``; ``hostvars`` is Ansible's, or any mapping of host -> variables.
    Raises KeyError naming a host that is not in the inventory."""
    raw_get = getattr(hostvars, "raw_get", None)
    templar = Templar(loader=None)
    variables = {}
    for host in hosts:
        if host not in hostvars:
            raise KeyError(host)
        raw = hostvars[host] if raw_get is None else raw_get(host)
        values = variables[host] = {}
        for name in names:
            if name in raw:
                value = raw[name]
                if raw_get is not None and not _plain(value, templar):
                    value = hostvars[host][name]
                values[name] = value
    return variables
