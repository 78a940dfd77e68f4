# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One place that tells a module which of its Python libraries are missing."""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.crossnet.routed.plugins.module_utils import pyroute2_codec

try:
    import netaddr  # pylint: disable=unused-import
except ImportError:
    NETADDR_IMPORT_ERROR = traceback.format_exc()
else:
    NETADDR_IMPORT_ERROR = None

# The part of pyroute2 the collection uses (see pyroute2_codec).
IMPORT_ERRORS = {"netaddr": NETADDR_IMPORT_ERROR, "pyroute2": pyroute2_codec.IMPORT_ERROR}


def require(module, *libraries):
    """fail_json with Ansible's standard message for the first of ``libraries`` that is missing."""
    for library in libraries:
        if IMPORT_ERRORS[library]:
            module.fail_json(msg=missing_required_lib(library), exception=IMPORT_ERRORS[library])


# Commands the modules run (iptables-restore and nft come with these packages).
COMMANDS = ("iptables", "nft")


def missing(module):
    """What the modules need and this host lacks: library names, then command names."""
    absent = [library for library, error in IMPORT_ERRORS.items() if error]
    return absent + [command for command in COMMANDS if module.get_bin_path(command) is None]
