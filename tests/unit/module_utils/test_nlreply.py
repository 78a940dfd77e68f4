# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nlreply.Reply reads what pyroute2 decodes from the same bytes."""
from __future__ import annotations

import pytest

pytest.importorskip("pyroute2")

from ansible_collections.crossnet.routed.plugins.module_utils import nlreply  # noqa: E402
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg  # noqa: E402
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg  # noqa: E402
from pyroute2.netlink.rtnl.ndmsg import ndmsg  # noqa: E402
from pyroute2.netlink.rtnl.rtmsg import rtmsg  # noqa: E402

MESSAGES = {
    "link": (ifinfmsg, {"index": 7, "flags": 0x1003, "change": 0, "ifi_type": 1},
             [["IFLA_IFNAME", "cnr0123456789a"], ["IFLA_MTU", 1400], ["IFLA_LINK", 3],
              ["IFLA_ADDRESS", "0a:58:c0:a8:09:03"], ["IFLA_IFALIAS", "crossnet:web1"], ["IFLA_TXQLEN", 1000],
              ["IFLA_LINKINFO", {"attrs": [["IFLA_INFO_KIND", "veth"]]}]]),
    "addr": (ifaddrmsg, {"family": 2, "prefixlen": 32, "index": 7, "scope": 0, "flags": 0x80},
             [["IFA_ADDRESS", "10.1.0.1"], ["IFA_LOCAL", "10.1.0.1"], ["IFA_LABEL", "eth0"]]),
    "route": (rtmsg, {"family": 2, "dst_len": 24, "table": 254, "proto": 157, "scope": 0, "type": 1, "flags": 4},
              [["RTA_DST", "10.2.0.0"], ["RTA_TABLE", 254], ["RTA_PRIORITY", 5], ["RTA_GATEWAY", "192.168.9.4"],
               ["RTA_OIF", 2], ["RTA_PREFSRC", "192.168.9.3"]]),
    "neigh": (ndmsg, {"family": 2, "ifindex": 7, "state": 0x80, "flags": 0, "ndm_type": 1},
              [["NDA_DST", "169.254.1.1"], ["NDA_LLADDR", "ee:ee:ee:ee:ee:ee"]]),
}


def encoded(cls, fields, attrs):
    msg = cls()
    for name, value in fields.items():
        msg[name] = value
    msg["attrs"] = attrs
    msg.encode()
    return bytes(msg.data)


def decoded(cls, raw):
    msg = cls(raw)
    msg.decode()
    return msg


@pytest.mark.parametrize("family", list(MESSAGES))
def test_reply_reads_what_pyroute2_decodes(family):
    cls, fields, attrs = MESSAGES[family]
    raw = b"\xff" * 12 + encoded(cls, fields, attrs)  # not at offset 0 of the datagram
    reply = nlreply.Reply(family, raw, 12, lambda data: decoded(cls, data))
    reference = decoded(cls, raw[12:])
    for name in nlreply.HEADERS[family][1]:
        assert reply[name] == reference[name], name
    for name in nlreply.ATTRS[family]:
        if name == "IFLA_LINKINFO":
            assert reply.get_attr(name).get_attr("IFLA_INFO_KIND") == "veth"
        else:
            assert reply.get_attr(name) == reference.get_attr(name), name
    assert reply._full is None, "a known attribute made it decode the whole message"


def test_absent_and_unknown_attributes():
    cls, fields, attrs = MESSAGES["link"]
    raw = encoded(cls, fields, [a for a in attrs if a[0] != "IFLA_IFALIAS"])
    reply = nlreply.Reply("link", raw, 0, lambda data: decoded(cls, data))
    assert reply.get_attr("IFLA_IFALIAS") is None
    assert reply.get_attr("IFLA_IFALIAS", "none") == "none"
    assert reply.get_attr("IFLA_TXQLEN") == 1000  # not in the table: pyroute2 decodes it
    reply["event"] = "RTM_NEWLINK"
    assert reply["event"] == "RTM_NEWLINK" and reply.get("missing") is None
