# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssh ProxyCommand: relay stdin/stdout to a TCP port (run inside a lab host's netns).

    ProxyCommand nsenter --net=/run/netns/xl-seed-host1 python3 relay.py 127.0.0.1 22
"""

from __future__ import annotations

import os
import socket
import sys
import threading


def pump_in(sock):
    while True:
        data = os.read(0, 65536)
        if not data:
            break
        sock.sendall(data)
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def main(host, port):
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.settimeout(None)
    threading.Thread(target=pump_in, args=(sock,), daemon=True).start()
    while True:
        data = sock.recv(65536)
        if not data:
            break
        view = memoryview(data)
        while view:
            view = view[os.write(1, view):]


if __name__ == "__main__":
    main(*sys.argv[1:3])
