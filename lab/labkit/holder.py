# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Holder of one lab host's mount and UTS namespaces (started inside the host's netns by
``unshare --mount --uts --propagation private``).  It makes the host's file system private:

- /etc, /var, /root: overlayfs over the machine's, upper layer in the host's lab directory, so
  /etc/sysctl.d, /etc/iproute2/rt_protos.d and /var/lib/crossnet are per host;
- /run and /tmp: fresh tmpfs (the host's `ip netns` names, /run/sshd, xtables lock);
- /sys: a sysfs mounted from inside the host's netns, so /sys/class/net lists its links;
- the lab directory, and this repository when it is checked out under /tmp or /run, stay
  reachable at their usual paths (bound in from an fd opened before /run and /tmp were covered).

Then it writes its pid to ``<hostdir>/holder.pid`` and becomes ``sleep infinity`` (named
``crossnet-lab-holder``) until killed: the namespaces live as long as it (or anything that
entered them) does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

HELD_NAME = "crossnet-lab-holder"  # argv[0] of the holder once it sleeps
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
VENV = os.path.realpath(os.path.join(REPO, ".venv"))  # a .venv that links elsewhere: where it is
FRESH = ("/run", "/tmp")  # what every host gets empty
OVERLAID = ("/etc", "/var", "/root")
# Directories that must start empty on every host even when the machine has them.
OPAQUE = ("var/lib/crossnet",)


def mount(*argv):
    subprocess.run(["mount"] + list(argv), check=True)


def overlay(target, hostdir):
    layer = os.path.join(hostdir, "fs", target.strip("/"))
    upper, work = layer + ".upper", layer + ".work"
    os.makedirs(upper, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    for rel in OPAQUE:
        top, rest = rel.split("/", 1)
        if "/" + top == target:
            path = os.path.join(upper, rest)
            os.makedirs(path, mode=0o700, exist_ok=True)
            # An opaque directory hides the lower layer's entries below it.
            os.setxattr(path, "trusted.overlay.opaque", b"y")
    mount("-t", "overlay", "crossnet-lab", "-o",
          "lowerdir=%s,upperdir=%s,workdir=%s" % (target, upper, work), target)


def covered(path):
    """True if the fresh /run or /tmp of a host would hide ``path``."""
    return any(path == top or path.startswith(top + "/") for top in FRESH)


def to_keep(labdir, repo=REPO, venv=VENV):
    """The directories a host's fresh /run and /tmp must not hide: the lab's, and this repository
    and its .venv (the Python of the hosts that say `python: venv`) when they are under them."""
    keep = [labdir]
    for path in (repo, venv):
        inside = any(path == held or path.startswith(held + "/") for held in keep)
        if covered(path) and os.path.isdir(path) and not inside:
            keep.append(path)
    return keep


def bind_back(kept):
    """Mount the directories held open in ``kept`` ({path: O_PATH fd}) at their paths again."""
    for path, fd in kept.items():
        os.makedirs(path, mode=0o700, exist_ok=True)
        subprocess.run(["mount", "--no-canonicalize", "--bind", "/proc/self/fd/%d" % fd, path], check=True, pass_fds=[fd])
        os.close(fd)


def main(labdir, hostdir, hostname):
    kept = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in to_keep(labdir)}
    for target in OVERLAID:
        overlay(target, hostdir)
    mount("-t", "sysfs", "-o", "nosuid,nodev,noexec", "sysfs", "/sys")
    mount("-t", "tmpfs", "-o", "mode=0755,size=64m", "crossnet-lab-run", "/run")
    mount("-t", "tmpfs", "-o", "mode=1777,size=256m", "crossnet-lab-tmp", "/tmp")
    os.makedirs("/run/sshd", mode=0o755)
    bind_back(kept)
    socket.sethostname(hostname)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    tmp = os.path.join(hostdir, "holder.pid.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write("%d\n" % os.getpid())
    os.replace(tmp, os.path.join(hostdir, "holder.pid"))
    # Hold the namespaces with the smallest process there is (a Python here costs ~5 MiB a host,
    # 300 MiB at 64 hosts); same pid, so holder.pid stays true.  core.Lab.processes() knows it
    # by this name.
    sys.stdout.flush()
    os.execv("/bin/sleep", [HELD_NAME, "infinity"])


if __name__ == "__main__":
    main(*sys.argv[1:4])
