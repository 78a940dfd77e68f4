# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pyroute2's netlink errors and RTNL message classes, without the rest of pyroute2.

``import pyroute2`` runs the package's ``__init__``, which imports the whole library (IPRoute,
NDB, IPDB, conntrack, ipset, ...): 0.13 s of every module run, for classes this collection does
not use.  The netlink codec does not need any of it, so when pyroute2 is not imported yet, the
package is entered by its path alone for these imports, and the stand-in is removed again: a
later ``import pyroute2`` still runs the real ``__init__`` and finds these same modules.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
import types

CODEC_MODULES = ("pyroute2.netlink.exceptions", "pyroute2.netlink.rtnl.ifaddrmsg",
                 "pyroute2.netlink.rtnl.ifinfmsg", "pyroute2.netlink.rtnl.ndmsg",
                 "pyroute2.netlink.rtnl.rtmsg")


def _import_codec():
    stand_in = None
    if "pyroute2" not in sys.modules:
        spec = importlib.util.find_spec("pyroute2")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("No module named 'pyroute2'")
        stand_in = types.ModuleType("pyroute2")
        stand_in.__path__ = list(spec.submodule_search_locations)
        stand_in.__spec__ = spec
        sys.modules["pyroute2"] = stand_in
    try:
        return [importlib.import_module(name) for name in CODEC_MODULES]
    finally:
        if stand_in is not None and sys.modules.get("pyroute2") is stand_in:
            del sys.modules["pyroute2"]


try:
    _exceptions, _ifaddrmsg, _ifinfmsg, _ndmsg, _rtmsg = _import_codec()
except ImportError:
    IMPORT_ERROR = traceback.format_exc()

    class NetlinkError(Exception):  # so that ``except NetlinkError`` still parses
        code = 0

    class NetlinkDumpInterrupted(Exception):
        pass

    ifaddrmsg = ifinfmsg = ndmsg = rtmsg = None
else:
    IMPORT_ERROR = None
    NetlinkError = _exceptions.NetlinkError
    NetlinkDumpInterrupted = _exceptions.NetlinkDumpInterrupted
    ifaddrmsg = _ifaddrmsg.ifaddrmsg
    ifinfmsg = _ifinfmsg.ifinfmsg
    ndmsg = _ndmsg.ndmsg
    rtmsg = _rtmsg.rtmsg
