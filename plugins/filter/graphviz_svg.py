# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The crossnet.routed.graphviz_svg filter: Graphviz DOT laid out as SVG on the controller."""

from __future__ import annotations

DOCUMENTATION = r"""
name: graphviz_svg
author: crossnet.routed contributors (@crossnet)
version_added: 0.1.0
short_description: Lay out Graphviz DOT as SVG on the controller
description:
  - Runs Graphviz's C(dot -Tsvg) on the controller with the DOT text as its input (an argument
    vector, no shell) and returns the SVG; V(None) when C(dot) is not installed.
  - The SVG carries the sha256 of the DOT text it was drawn from, as an XML comment
    C(crossnet.routed.network_diagram dot_sha256=<hex>) (Graphviz's graph attribute C(comment)),
    so that a picture can be checked against its DOT whatever Graphviz version laid it out.
  - C(playbooks/diagram.yml) uses it on the output of P(crossnet.routed.network_diagram#filter).
positional: _input
options:
  _input:
    description: The DOT text.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Write the SVG when Graphviz is installed
  ansible.builtin.copy:
    content: "{{ dot_text | crossnet.routed.graphviz_svg }}"
    dest: ./crossnet-network.svg
    mode: "0644"
  when: dot_text | crossnet.routed.graphviz_svg is not none
"""

RETURN = r"""
_value:
  description: The SVG text, or V(None) without Graphviz.
  type: str
"""

import hashlib
import shutil
import subprocess

from ansible.errors import AnsibleFilterError

COMMENT = "crossnet.routed.network_diagram dot_sha256="


def dot_sha256(dot):
    return hashlib.sha256(dot.encode("utf-8")).hexdigest()


def graphviz_svg(dot):
    program = shutil.which("dot")
    if program is None:
        return None
    proc = subprocess.run([program, "-Tsvg", "-Gcomment=" + COMMENT + dot_sha256(dot)], input=dot, text=True,
                          capture_output=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise AnsibleFilterError("dot -Tsvg failed (exit %d): %s" % (proc.returncode, proc.stderr.strip()))
    return proc.stdout


class FilterModule:
    def filters(self):
        return {"graphviz_svg": graphviz_svg}
