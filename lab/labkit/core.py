# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bring a lab up, take it down, run things in it.

Every namespace of lab NAME in the machine's `ip netns` list is called ``xl-NAME-<node>``
(``xl-NAME-switch`` holds one bridge per segment).  Runtime files live in
/run/crossnet-lab/NAME/.  `down` needs neither: it finds the lab's namespaces by prefix and its
processes by the namespaces they are in, so it cleans up after a crashed or interrupted `up`.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

import yaml

from labkit import topology as topo_mod

RUN_ROOT = os.environ.get("CROSSNET_LAB_RUN", "/run/crossnet-lab")
NETNS_DIR = "/run/netns"
PREFIX = "xl-"
# Real paths: the hosts see the checkout (bound in when it lies under /tmp or /run) at its real
# path only, not through the symlink the controller may have come by.
HERE = os.path.dirname(os.path.realpath(__file__))
HOLDER = os.path.join(HERE, "holder.py")
HELD_NAME = "crossnet-lab-holder"  # holder.py's argv[0] once it has become `sleep`
RELAY = os.path.join(HERE, "relay.py")
WHOAMI = os.path.join(HERE, "whoami.py")
# The directory resolved, not the file: a venv's python is a symlink to the base interpreter.
PYTHON = os.path.join(os.path.realpath(os.path.dirname(sys.executable)), os.path.basename(sys.executable))
STARTERS = 8  # hosts started (and waited for over ssh) at once
MARK = "CROSSNET_LAB"  # environment mark of the processes the lab starts

SSHD_CONFIG = """\
Port 22
HostKey {hostkey}
PidFile {pidfile}
AuthorizedKeysFile {authorized_keys}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
"""


class LabError(RuntimeError):
    pass


def sh(argv, check=True, **kwargs):
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    proc = subprocess.run(list(argv), check=False, **kwargs)
    if check and proc.returncode != 0:
        raise LabError("%s: exit %d: %s" % (" ".join(argv), proc.returncode, (proc.stderr or "").strip()))
    return proc


def list_netns():
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def labs_on_disk():
    try:
        return sorted(os.listdir(RUN_ROOT))
    except FileNotFoundError:
        return []


def all_labs():
    """Names of every lab on this machine: runtime directories and xl-<name>-* namespaces."""
    names = set(labs_on_disk())
    for ns in list_netns():
        if ns.startswith(PREFIX) and ns.count("-") >= 2:
            names.add(ns[len(PREFIX):].split("-")[0])
    return sorted(n for n in names if topo_mod.NAME_RE.match(n))


def _ino(path):
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _environ_has(pid, entry):
    try:
        with open("/proc/%d/environ" % pid, "rb") as handle:
            return entry in handle.read().split(b"\0")
    except OSError:
        return False


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().split(b"\0")
    except OSError:
        return []


class Lab:
    def __init__(self, name):
        self.name = topo_mod.check_name("lab", name)
        self.dir = os.path.join(RUN_ROOT, name)
        self.prefix = "%s%s-" % (PREFIX, name)

    # -- paths and names -------------------------------------------------------------------
    def netns(self, node):
        return self.prefix + node

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    @property
    def inventory(self):
        return self.path("inventory.yml")

    @property
    def collections(self):
        return self.path("collections")

    @property
    def ssh_config(self):
        return self.path("ssh_config")

    def hostdir(self, node):
        return self.path("hosts", node)

    def state(self):
        try:
            with open(self.path("lab.json"), encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return None

    def topology(self):
        state = self.state()
        if state is None:
            raise LabError("lab %s is not up" % self.name)
        return topo_mod.parse(state["topology"])

    def holder_pid(self, node):
        """The live holder of host ``node`` (its net+mount+uts namespaces), or None."""
        try:
            with open(os.path.join(self.hostdir(node), "holder.pid"), encoding="utf-8") as handle:
                pid = int(handle.read())
        except (OSError, ValueError):
            return None
        if _ino("/proc/%d/ns/net" % pid) != _ino(os.path.join(NETNS_DIR, self.netns(node))):
            return None  # dead, or the pid was reused
        return pid

    def sshd_pid(self, node):
        try:
            with open(os.path.join(self.hostdir(node), "sshd.pid"), encoding="utf-8") as handle:
                pid = int(handle.read())
        except (OSError, ValueError):
            return None
        if _ino("/proc/%d/ns/net" % pid) != _ino(os.path.join(NETNS_DIR, self.netns(node))):
            return None
        return pid

    # -- running things in the lab ---------------------------------------------------------
    def argv(self, node, argv, netns=None):
        """argv that runs ``argv`` on lab node ``node`` (inside its container ``netns`` if given)."""
        kind = self.topology().node(node).kind
        inner = (["ip", "netns", "exec", netns] if netns else []) + list(argv)
        if kind != "host":  # outside nodes and routers: a plain network namespace
            if netns:
                raise LabError("%s node %s has no containers" % (kind, node))
            return ["ip", "netns", "exec", self.netns(node)] + list(argv)
        pid = self.holder_pid(node)
        if pid is None:
            raise LabError("host %s of lab %s is not running" % (node, self.name))
        return ["nsenter", "-t", str(pid), "-n", "-m", "-u", "--"] + inner

    def env(self):
        return dict(os.environ, **{MARK: self.name})

    def run(self, node, argv, netns=None, check=False, **kwargs):
        return sh(self.argv(node, argv, netns), check=check, env=self.env(), **kwargs)

    def ssh(self, node, argv, check=False, **kwargs):
        address = self.topology().node(node).address
        return sh(["ssh", "-F", self.ssh_config, address, "--"] + [shlex.quote(a) for a in argv],
                  check=check, **kwargs)

    # -- up ----------------------------------------------------------------------------------
    def healthy(self):
        state = self.state()
        if state is None:
            return False
        topo = topo_mod.parse(state["topology"])
        names = set(list_netns())
        if any(self.netns(n.name) not in names for n in topo.nodes):
            return False
        return all(self.holder_pid(h.name) and self.sshd_pid(h.name) for h in topo.hosts)

    def up(self, topology_path):
        with open(topology_path, encoding="utf-8") as handle:
            doc = yaml.safe_load(handle)
        topo = topo_mod.parse(doc)
        state = self.state()
        if state is not None and state.get("topology") == doc and self.healthy():
            self._write_client_files(topo)
            self.wait_ssh(topo)
            return False
        self.down()
        try:
            self._build(doc, topo, os.path.abspath(topology_path))
        except BaseException:
            self.down()
            raise
        return True

    def _build(self, doc, topo, source):
        os.makedirs(self.dir, mode=0o700)
        with open(self.path("lab.json"), "w", encoding="utf-8") as handle:
            json.dump({"name": self.name, "source": source, "topology": doc}, handle, indent=2)
        sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "crossnet-lab-" + self.name,
            "-f", self.path("id_ed25519")])
        shutil.copyfile(self.path("id_ed25519.pub"), self.path("authorized_keys"))
        os.chmod(self.path("authorized_keys"), 0o600)
        os.makedirs(self.path("cp"), mode=0o700)

        switch = self.netns("switch")
        sh(["ip", "netns", "add", switch])
        sh(["ip", "-n", switch, "link", "set", "lo", "up"])
        for segment in topo.segments:
            sh(["ip", "-n", switch, "link", "add", "br-" + segment, "type", "bridge"])
            sh(["ip", "-n", switch, "link", "set", "br-" + segment, "up"])
        for number, (left, right) in enumerate(topo.trunks):
            sh(["ip", "-n", switch, "link", "add", "t%d-a" % number, "type", "veth", "peer", "name", "t%d-b" % number])
            sh(["ip", "-n", switch, "link", "set", "t%d-a" % number, "master", "br-" + left, "up"])
            sh(["ip", "-n", switch, "link", "set", "t%d-b" % number, "master", "br-" + right, "up"])
        for index, node in enumerate(topo.nodes):
            self._wire(index, node, switch)
        # Hosts start independently of each other: a pool makes a 64-host lab 3x faster to start.
        with concurrent.futures.ThreadPoolExecutor(STARTERS) as pool:
            known = list(pool.map(self._start_host, topo.hosts))
        with open(self.path("known_hosts"), "w", encoding="utf-8") as handle:
            handle.writelines(known)
        self._write_client_files(topo)
        self.wait_ssh(topo)

    def _write_client_files(self, topo):
        """What the controller needs: ssh config, inventory, the collection link (idempotent)."""
        self._write_ssh_config(topo)
        self._write_inventory(topo)
        # ANSIBLE_COLLECTIONS_PATH=<lab dir>/collections finds crossnet.routed in this repository.
        link = self.path("collections", "ansible_collections", "crossnet", "routed")
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if not os.path.islink(link):
            os.symlink(topo_mod.REPO, link)

    def _wire(self, index, node, switch):
        ns = self.netns(node.name)
        sh(["ip", "netns", "add", ns])
        sh(["ip", "-n", ns, "link", "set", "lo", "up"])
        # IPv6 on (a new namespace starts with the kernel's IPv6 defaults, which a machine
        # booted with IPv6 disabled by default would carry).  accept_ra is left at its default.
        # The lab's links are point-to-bridge veths: skip duplicate address detection so their
        # link-local addresses are final at once.
        sh(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0",
            "net.ipv6.conf.default.disable_ipv6=0", "net.ipv6.conf.default.accept_dad=0"])
        for number, link in enumerate(node.links):
            port = "p%d-%d" % (index, number)
            # Both ends are created directly in their namespaces: nothing ever appears in ours.
            sh(["ip", "-n", switch, "link", "add", port, "type", "veth",
                "peer", "name", link.ifname, "netns", ns])
            sh(["ip", "-n", switch, "link", "set", port, "master", "br-" + link.segment, "up"])
            if link.address is not None:
                sh(["ip", "-n", ns, "addr", "add", str(link.address), "dev", link.ifname])
            if link.address6 is not None:
                # nodad: usable at once, never "tentative".
                sh(["ip", "-n", ns, "-6", "addr", "add", str(link.address6), "dev", link.ifname, "nodad"])
            sh(["ip", "-n", ns, "link", "set", link.ifname, "up"])
        for link in node.links:
            self._wait_link_local(ns, link.ifname)
        self._route(ns, node)

    @staticmethod
    def _route(ns, node):
        """A router forwards (in its own namespace only; IPv6 too when it has IPv6 links);
        every node gets its routes."""
        if node.kind == "router":
            sh(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
            if node.address6 is not None:
                sh(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"])
        for route in node.routes:
            sh(["ip", "-n", ns, "-%d" % route.dest.version, "route", "add", str(route.dest), "via", str(route.via)])

    @staticmethod
    def _wait_link_local(ns, ifname, timeout=10):
        """Wait until the kernel has finished the interface's IPv6 link-local address.

        It appears (with its local route) a second or two after the link comes up, once duplicate
        address detection is done: a lab whose hosts are snapshotted before that sees a route
        appear from nowhere.
        """
        deadline = time.monotonic() + timeout
        while True:
            out = sh(["ip", "-n", ns, "-6", "-o", "addr", "show", "dev", ifname, "scope", "link"]).stdout
            if out.strip() and "tentative" not in out:
                return
            if time.monotonic() > deadline:
                raise LabError("%s/%s: no IPv6 link-local address after %d s" % (ns, ifname, timeout))
            time.sleep(0.05)

    def _start_host(self, node):
        hostdir = self.hostdir(node.name)
        os.makedirs(hostdir, mode=0o700)
        with open(os.path.join(hostdir, "holder.log"), "wb") as log:
            holder = subprocess.Popen(
                ["nsenter", "--net=" + os.path.join(NETNS_DIR, self.netns(node.name)),
                 "unshare", "--mount", "--uts", "--propagation", "private", "--",
                 PYTHON, HOLDER, self.dir, hostdir, node.name],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env(), start_new_session=True)
        deadline = time.monotonic() + 15
        while self.holder_pid(node.name) is None:
            if holder.poll() is not None or time.monotonic() > deadline:
                with open(os.path.join(hostdir, "holder.log"), encoding="utf-8", errors="replace") as log:
                    raise LabError("holder of %s did not start: %s" % (node.name, log.read().strip()))
            time.sleep(0.05)
        hostkey = os.path.join(hostdir, "ssh_host_ed25519_key")
        sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", self.netns(node.name), "-f", hostkey])
        config = os.path.join(hostdir, "sshd_config")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(SSHD_CONFIG.format(hostkey=hostkey, pidfile=os.path.join(hostdir, "sshd.pid"),
                                            authorized_keys=self.path("authorized_keys")))
        sh(self.argv(node.name, ["/usr/sbin/sshd", "-f", config, "-E", os.path.join(hostdir, "sshd.log")]),
           env=self.env())
        with open(hostkey + ".pub", encoding="utf-8") as handle:
            return "%s %s\n" % (self.netns(node.name), " ".join(handle.read().split()[:2]))

    def _write_ssh_config(self, topo):
        blocks = []
        for node in topo.hosts:
            proxy = ["nsenter", "--net=" + os.path.join(NETNS_DIR, self.netns(node.name)),
                     PYTHON, RELAY, "127.0.0.1", "22"]
            blocks.append("Host %s %s\n  HostKeyAlias %s\n  ProxyCommand %s\n"
                          % (node.address, node.name, self.netns(node.name), " ".join(shlex.quote(a) for a in proxy)))
        blocks.append("Host *\n  User root\n  IdentityFile %s\n  IdentitiesOnly yes\n"
                      "  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n"
                      "  StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 10\n  LogLevel ERROR\n"
                      % (self.path("id_ed25519"), self.path("known_hosts")))
        with open(self.ssh_config, "w", encoding="utf-8") as handle:
            handle.write("# ssh configuration of lab %s (generated)\n" % self.name + "\n".join(blocks))

    def _write_inventory(self, topo):
        # Connection settings are host variables so that they win over any other inventory
        # source naming the same hosts (molecule's own inventory does).
        connection = {
            "ansible_user": "root",
            "ansible_ssh_private_key_file": self.path("id_ed25519"),
            "ansible_ssh_common_args": "-F " + self.ssh_config,
            "ansible_control_path_dir": self.path("cp"),
            "ansible_pipelining": True,
        }
        hosts = {}
        for node in topo.hosts:
            hosts[node.name] = dict(ansible_host=node.address, ansible_python_interpreter=node.python,
                                    **connection, **node.vars)
        inventory = {"all": {
            "vars": {"crossnet_lab_name": self.name},
            "children": {"crossnet_hosts": {"vars": topo.vars, "hosts": hosts}},
        }}
        with open(self.inventory, "w", encoding="utf-8") as handle:
            handle.write("# Inventory of lab %s (generated by lab/lab.py up)\n---\n" % self.name)
            yaml.safe_dump(inventory, handle, default_flow_style=False, sort_keys=False)

    def wait_ssh(self, topo, timeout=20):
        deadline = time.monotonic() + timeout

        def wait(node):
            while True:
                proc = self.ssh(node.name, ["true"], timeout=timeout)
                if proc.returncode == 0:
                    return
                if time.monotonic() > deadline:
                    raise LabError("ssh to %s failed: %s" % (node.name, proc.stderr.strip()))
                time.sleep(0.2)

        with concurrent.futures.ThreadPoolExecutor(STARTERS) as pool:
            list(pool.map(wait, topo.hosts))

    # -- down --------------------------------------------------------------------------------
    def processes(self):
        """Pids of every process in this lab: in one of its namespaces (also the containers'
        namespaces mounted inside its hosts) or started by it (environment mark)."""
        names = list_netns()
        lab_inos = {_ino(os.path.join(NETNS_DIR, n)) for n in names if n.startswith(self.prefix)}
        lab_inos.discard(None)
        # Never let a namespace of the machine or of another lab count as ours.
        foreign = {_ino(os.path.join(NETNS_DIR, n)) for n in names if not n.startswith(self.prefix)}
        foreign.add(_ino("/proc/1/ns/net"))
        mark = ("%s=%s" % (MARK, self.name)).encode()
        # A daemon (sshd) that an interrupted `up` was still starting may come up after its host's
        # namespace is gone; its command line still names its files in the lab's directory.
        lab_dir = (self.dir.rstrip("/") + "/").encode()
        found = set()
        for _pass in range(2):  # the second pass sees the processes in the hosts' containers
            for pid in _pids():
                if pid != os.getpid() and (_ino("/proc/%d/ns/net" % pid) in lab_inos or _environ_has(pid, mark)
                                           or any(lab_dir in arg for arg in _cmdline(pid))):
                    found.add(pid)
            for pid in found:
                argv = _cmdline(pid)
                if not _is_holder(argv):
                    continue
                netns_dir = "/proc/%d/root/run/netns" % pid  # the host's private /run/netns
                try:
                    entries = os.listdir(netns_dir)
                except OSError:
                    continue
                for entry in entries:
                    ino = _ino(os.path.join(netns_dir, entry))
                    if ino is not None and ino not in foreign:
                        lab_inos.add(ino)
        return found

    def down(self):
        # Scan again after killing: a process still being started when the first scan ran
        # shows up in the second.
        for _scan in range(2):
            self._kill(self.processes())
        for ns in list_netns():
            if ns.startswith(self.prefix):
                sh(["ip", "netns", "delete", ns], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        left = [ns for ns in list_netns() if ns.startswith(self.prefix)]
        if left or os.path.exists(self.dir):
            raise LabError("lab %s: could not remove %s" % (self.name, left or self.dir))

    @staticmethod
    def _kill(pids):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                pids = {p for p in pids if os.path.exists("/proc/%d" % p) and not _zombie(p)}
                if not pids:
                    break
                time.sleep(0.05)

    # -- status ------------------------------------------------------------------------------
    def status(self):
        state = self.state()
        nodes = {}
        if state is not None:
            for node in topo_mod.parse(state["topology"]).nodes:
                nodes[node.name] = {
                    "kind": node.kind, "address": node.address, "address6": node.address6,
                    "netns": self.netns(node.name) in list_netns(),
                    "holder": self.holder_pid(node.name) if node.kind == "host" else None,
                    "sshd": self.sshd_pid(node.name) if node.kind == "host" else None,
                }
        return {"name": self.name, "dir": self.dir if state is not None else None,
                "inventory": self.inventory if state is not None else None,
                "namespaces": [ns for ns in list_netns() if ns.startswith(self.prefix)],
                "nodes": nodes, "healthy": self.healthy()}


def _is_holder(argv):
    """A host's holder: still starting (python holder.py ...) or holding (crossnet-lab-holder)."""
    return bool(argv) and (argv[0] == HELD_NAME.encode()
                           or (len(argv) > 1 and os.path.basename(argv[1]) == b"holder.py"))


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
