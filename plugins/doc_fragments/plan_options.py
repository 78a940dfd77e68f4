# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The planner's options, as the filters that plan the container network take them."""

    DOCUMENTATION = r"""
options:
  gateway:
    description: The link-local gateway containers route to.
    type: str
    default: 169.254.1.1
  masquerade:
    description: Whether traffic from containers to outside the container network is NATed.
    type: bool
    default: true
  masquerade_exclude:
    description: Extra destinations (IPv4 CIDRs or addresses) never NATed.
    type: list
    elements: str
    default: []
"""
