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
    description:
      - Extra destinations (IPv4 or IPv6 CIDRs or addresses) never NATed.
      - Each applies to its IP version's masquerade (O(masquerade) or O(masquerade6)).
    type: list
    elements: str
    default: []
  gateway6:
    description:
      - The IPv6 gateway containers with an IPv6 address route to.
      - Must be link-local (C(fe80::/10)); anything else is refused.
    type: str
    default: fe80::1
  masquerade6:
    description: Whether IPv6 traffic from containers to outside the container network is NATed.
    type: bool
    default: true
"""
