# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real containers on the network the collection built (issue 17, docs/containers.md).

The seed lab (lab/topologies/seed.yml), converged with playbooks/site.yml.  A systemd-nspawn
container running busybox httpd joins host1's namespace container0 (--network-namespace-path)
and serves a page to a client in host2's container0; the server sees the client's container
address.  A re-run with the container running changes nothing; removing the entry while it runs
is refused naming the process, and crossnet_force_remove removes the namespace anyway.  The
namespace outlives a restart of the container.  Podman, where it starts, fetches the page from a
container of its own in host2's container0.

The rootfs is built offline from busybox-static (no image registry is reachable).  The lab's
hosts have /sys remounted without a cgroup tree; the runtimes need one, so each runs in a private
mount namespace of its own with one mounted (the lab host's mounts stay as they are).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time

import pytest
from conftest import REPO
from labkit import core

SEED = os.path.join(REPO, "lab", "topologies", "seed.yml")
PLAYBOOK = os.path.join(REPO, ".venv", "bin", "ansible-playbook")
BUSYBOX = "/bin/busybox"
SERVER = "11.12.11.121"  # host1's container0 (seed.yml)
CLIENT = "12.11.12.3"  # host2's container0
PAGE = "crossnet test page: systemd-nspawn container in host1/container0\n"
APPLETS = ("sh", "httpd", "wget", "cat", "sleep")
ROOTFS = "/tmp/fr-rootfs"  # in the lab hosts' own /tmp (a tmpfs per host)
# systemd-nspawn wants a cgroup tree (it reads /sys/fs/cgroup to pick the hierarchy); this
# machine's is hybrid (cgroup v1 + name=systemd + cgroup2 at unified), mounted the same way.
NSPAWN_CGROUPS = ("mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup && mkdir /sys/fs/cgroup/systemd "
                  "/sys/fs/cgroup/unified && mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd "
                  "&& mount -t cgroup2 none /sys/fs/cgroup/unified")
# crun refuses hybrid mode; with --cgroups=disabled a bare cgroup2 mount is enough.
PODMAN_CGROUPS = "mount -t cgroup2 none /sys/fs/cgroup"


def name(tag):
    return "fr%s%d" % (tag, os.getpid() % 100000)


def build_rootfs(root, page):
    """A busybox-static root file system at ``root``: bin/busybox and applet links, /usr (which
    systemd-nspawn checks for), /etc/passwd and group, /www/index.html holding ``page``."""
    for sub in ("bin", "usr", "etc", "www", "proc", "sys", "dev", "tmp", "run"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
    for applet in APPLETS:
        os.symlink("busybox", os.path.join(root, "bin", applet))
    with open(os.path.join(root, "etc", "passwd"), "w", encoding="utf-8") as handle:
        handle.write("root:x:0:0:root:/:/bin/sh\n")
    with open(os.path.join(root, "etc", "group"), "w", encoding="utf-8") as handle:
        handle.write("root:x:0:\n")
    with open(os.path.join(root, "www", "index.html"), "w", encoding="utf-8") as handle:
        handle.write(page)


def converge(lab, *options, inventories=()):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=lab.collections, ANSIBLE_NOCOLOR="1")
    argv = [PLAYBOOK, "-i", lab.inventory]
    for extra in inventories:
        argv += ["-i", extra]
    return subprocess.run(argv + list(options) + [os.path.join(REPO, "playbooks", "site.yml")],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300, check=False)


def recap(proc):
    """{host: {"ok": n, "changed": n, "failed": n, ...}} from the play recap."""
    found = {}
    for host, counts in re.findall(r"^(host\d+)\s+:\s+(.*)$", proc.stdout, re.M):
        found[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
    return found


def children(pid):
    """Pids whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, encoding="utf-8") as handle:
                if int(handle.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


class Nspawn:
    """``systemd-nspawn ... busybox httpd`` on a lab host, in its namespace ``netns``; in the
    background, logging to ``log``.  ``stop()`` kills it and its container, whatever happened."""

    def __init__(self, lab, host, netns, log):
        self.lab, self.host, self.netns, self.log_path = lab, host, netns, log
        self.proc = None
        self.httpd = None

    def start(self):
        argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", NSPAWN_CGROUPS + ' && exec "$@"',
                "sh", "systemd-nspawn", "-D", ROOTFS, "--network-namespace-path=/run/netns/" + self.netns,
                "--register=no", "--keep-unit", "-q", "busybox", "httpd", "-f", "-v", "-p", "80", "-h", "/www"]
        with open(self.log_path, "ab") as log:
            # nsenter, unshare and sh exec: the pid is systemd-nspawn's
            self.proc = subprocess.Popen(self.lab.argv(self.host, argv), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, env=self.lab.env(), start_new_session=True)

        def httpd_up():
            if self.proc.poll() is not None:
                raise AssertionError("systemd-nspawn ended: %s" % self.log())
            pids = children(self.proc.pid)
            listening = self.lab.run(self.host, ["ss", "-Htln", "sport = :80"], netns=self.netns).stdout
            if pids and ":80" in listening:
                self.httpd = pids[0]
                return True
            return False
        wait_for(httpd_up, 30, "busybox httpd in %s/%s" % (self.host, self.netns))
        return self

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def stop(self):
        if self.proc is None:
            return
        # SIGTERM: nspawn kills the container (SIGKILL, no --boot) and exits; then to be sure
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in [self.httpd] + children(self.proc.pid):
            if pid is not None and alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.proc = None


def fetch(lab, host, netns, url):
    return lab.run(host, ["busybox", "wget", "-qO-", url], netns=netns, timeout=30)


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    """The seed lab, converged, with a busybox rootfs in each host's /tmp; always taken down."""
    lab = core.Lab(name("c"))
    try:
        lab.up(SEED)
        done = converge(lab)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        for host in ("host1", "host2"):
            # the host's /tmp is its own tmpfs: reach it through its holder's root
            build_rootfs("/proc/%d/root%s" % (lab.holder_pid(host), ROOTFS), PAGE)
        lab.logs = tmp_path_factory.mktemp("containers")
        yield lab
    finally:
        lab.down()


@pytest.fixture
def server(seed, request):
    container = Nspawn(seed, "host1", "container0", str(seed.logs / ("%s.log" % request.node.name)))
    try:
        yield container.start()
    finally:
        container.stop()


def test_a_client_container_gets_the_page_of_an_nspawn_container_on_the_other_host(seed, server):
    got = fetch(seed, "host2", "container0", "http://%s/" % SERVER)
    assert got.returncode == 0 and got.stdout == PAGE, got.stderr
    # busybox httpd -v logs each request with the peer: the client's container address, not
    # host2's (container to container is never masqueraded)
    wait_for(lambda: "response:200" in server.log(), 5, "the server's log line")
    assert re.search(r"\[::ffff:%s\]:\d+: response:200" % re.escape(CLIENT), server.log()), server.log()


def test_a_rerun_with_the_container_running_changes_nothing(seed, server):
    again = converge(seed)
    assert again.returncode == 0, again.stdout[-3000:]
    assert {h: c["changed"] for h, c in recap(again).items()} == {"host1": 0, "host2": 0}, again.stdout[-1500:]
    assert server.proc.poll() is None and fetch(seed, "host2", "container0", "http://%s/" % SERVER).stdout == PAGE


def test_the_namespace_outlives_a_restart_of_the_container(seed, tmp_path):
    first = Nspawn(seed, "host1", "container0", str(tmp_path / "first.log"))
    try:
        first.start()
    finally:
        first.stop()
    # no process in it now; the network stays as the collection built it
    assert "container0" in seed.run("host1", ["ip", "netns", "list"], check=True).stdout
    assert SERVER in seed.run("host1", ["ip", "-o", "addr", "show", "eth0"], netns="container0", check=True).stdout
    assert fetch(seed, "host2", "container0", "http://%s/" % SERVER).returncode != 0  # nobody serves
    second = Nspawn(seed, "host1", "container0", str(tmp_path / "second.log"))
    try:
        second.start()
        assert fetch(seed, "host2", "container0", "http://%s/" % SERVER).stdout == PAGE
    finally:
        second.stop()


def test_podman_fetches_the_page_from_a_container_of_its_own(seed, server):
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed (scripts/bootstrap.sh installs it)")
    storage = "/tmp/fr-podman"
    argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", PODMAN_CGROUPS + ' && exec "$@"',
            "sh", "podman", "--cgroup-manager=cgroupfs", "--events-backend=file", "--storage-driver=vfs",
            "--root", storage + "/root", "--runroot", storage + "/run",
            "run", "--rm", "--cgroups=disabled", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
            "--network", "ns:/run/netns/container0", "--rootfs", ROOTFS,
            "busybox", "wget", "-qO-", "http://%s/" % SERVER]
    got = seed.run("host2", argv, timeout=120)
    assert got.returncode == 0 and got.stdout == PAGE, got.stdout + got.stderr
    wait_for(lambda: re.search(r"\[::ffff:%s\]:\d+: response:200" % re.escape(CLIENT), server.log()), 5,
             "the server's log line")
    # the container is gone (--rm); the namespace it joined is still there
    assert "container0" in seed.run("host2", ["ip", "netns", "list"], check=True).stdout


def test_removing_the_entry_while_the_container_runs_is_refused_unless_forced(seed, server, tmp_path):
    without = tmp_path / "without-container0.yml"
    without.write_text("all:\n  children:\n    crossnet_hosts:\n      hosts:\n        host1:\n"
                       "          crossnet_containers: []\n", encoding="utf-8")
    refused = converge(seed, inventories=[str(without)])
    assert refused.returncode != 0
    named = ("network namespace container0 still has processes in it: pid %d (busybox); refusing to remove it"
             % server.httpd)
    assert named in refused.stdout + refused.stderr, refused.stdout[-3000:]
    assert "crossnet_force_remove" in refused.stdout
    assert recap(refused)["host1"]["failed"] == 1 and recap(refused)["host1"]["changed"] == 0
    assert "container0" in seed.run("host1", ["ip", "netns", "list"], check=True).stdout
    assert server.proc.poll() is None and alive(server.httpd)
    # (host2 has dropped its route to the container meanwhile: the entry is gone from the plan.)
    # The entry back: all as before, the container still serving.
    back = converge(seed)
    assert back.returncode == 0, back.stdout[-3000:]
    assert fetch(seed, "host2", "container0", "http://%s/" % SERVER).stdout == PAGE

    forced = converge(seed, "-e", "crossnet_force_remove=true", inventories=[str(without)])
    assert forced.returncode == 0, forced.stdout[-3000:]
    assert "container0" not in seed.run("host1", ["ip", "netns", "list"], check=True).stdout
    # the process itself is not killed: it runs on in a namespace without name or link
    assert alive(server.httpd)
    assert fetch(seed, "host2", "container0", "http://%s/" % SERVER).returncode != 0
