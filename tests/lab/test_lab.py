# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab itself: hosts are reachable with Ansible over ssh, isolated from each other and
from the machine, wired as the topology says, and `down` leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, lab_name
from labkit import core, probe

ANSIBLE = os.path.join(REPO, ".venv", "bin", "ansible")


def machine_addresses():
    return subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True, check=True).stdout


def test_ansible_reaches_every_host_over_ssh(lab):
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="True", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([ANSIBLE, "-i", lab.inventory, "crossnet_hosts", "-m", "setup",
                           "-a", "filter=ansible_hostname,ansible_python"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"ansible_hostname": "host1"' in proc.stdout
    assert '"ansible_hostname": "host2"' in proc.stdout
    # host1 runs modules with the venv's python, host2 with Debian's.
    assert os.path.join(REPO, ".venv", "bin", "python") in proc.stdout
    assert "/usr/bin/python3" in proc.stdout


def test_hosts_have_their_own_links_and_no_default_route(lab):
    links = lab.ssh("host1", ["ls", "/sys/class/net"], check=True).stdout.split()
    assert sorted(links) == ["eth0", "eth1", "lo"]
    assert sorted(lab.ssh("host2", ["ls", "/sys/class/net"], check=True).stdout.split()) == ["eth0", "lo"]
    routes = lab.ssh("host1", ["ip", "-4", "route", "show"], check=True).stdout
    assert "10.77.0.0/24 dev eth0" in routes and "10.78.0.0/24 dev eth1" in routes
    assert "default" not in routes


def test_netns_names_and_files_are_per_host(lab):
    name = "probe%d" % os.getpid()
    before = machine_addresses()
    lab.ssh("host1", ["ip", "netns", "add", name], check=True)
    lab.ssh("host1", ["sh", "-c", "echo x > /etc/sysctl.d/99-lab-test.conf; mkdir -p /var/lib/crossnet; "
                                  "echo {} > /var/lib/crossnet/lab-test.json"], check=True)
    try:
        assert name in lab.ssh("host1", ["ip", "netns", "list"], check=True).stdout
        assert name not in lab.ssh("host2", ["ip", "netns", "list"], check=True).stdout
        assert name not in core.list_netns()
        assert lab.ssh("host2", ["test", "-e", "/etc/sysctl.d/99-lab-test.conf"]).returncode == 1
        assert lab.ssh("host2", ["test", "-e", "/var/lib/crossnet/lab-test.json"]).returncode == 1
        assert not os.path.exists("/etc/sysctl.d/99-lab-test.conf")
        assert not os.path.exists("/var/lib/crossnet/lab-test.json")
    finally:
        lab.ssh("host1", ["ip", "netns", "delete", name])
    assert machine_addresses() == before


def test_segments_carry_traffic_and_the_receiver_sees_the_sender(lab):
    server = subprocess.Popen(lab.argv("outside", [core.PYTHON, core.WHOAMI, "serve", "7100", "20"]),
                              stdout=subprocess.PIPE, text=True, env=lab.env())
    try:
        assert server.stdout.readline().strip() == "ready"
        ping = lab.run("host1", [core.PYTHON, core.WHOAMI, "ping", "10.78.0.10"], timeout=10)
        assert ping.returncode == 0, ping.stderr
        ask = lab.run("host1", [core.PYTHON, core.WHOAMI, "ask", "10.78.0.10", "7100"], timeout=10)
        assert ask.stdout.strip() == "10.78.0.1"
        # host2 is on the other segment only, and has no default route: no way there.
        lost = lab.run("host2", [core.PYTHON, core.WHOAMI, "ping", "10.78.0.10", "1"], timeout=10)
        assert lost.returncode == 1
    finally:
        server.kill()
        server.wait()
        server.stdout.close()


def test_container_helper_runs_inside_a_hosts_namespace(lab):
    lab.run("host2", ["ip", "netns", "add", "c1"], check=True)
    try:
        out = lab.run("host2", ["ip", "-o", "link", "show"], netns="c1", check=True).stdout
        assert ": lo:" in out and "eth0" not in out
    finally:
        lab.run("host2", ["ip", "netns", "delete", "c1"], check=True)


def test_up_again_keeps_the_running_lab(lab, topology_file):
    holders = [lab.holder_pid("host1"), lab.holder_pid("host2")]
    assert lab.up(topology_file) is False
    assert [lab.holder_pid("host1"), lab.holder_pid("host2")] == holders


def test_down_removes_namespaces_processes_and_files(fresh_lab, topology_file):
    lab = fresh_lab
    assert lab.up(topology_file) is True
    # Something long-running inside a container namespace of a host, started like verify does.
    lab.run("host1", ["ip", "netns", "add", "c9"], check=True)
    sleeper = subprocess.Popen(lab.argv("host1", ["sleep", "600"], netns="c9"), env=lab.env())
    time.sleep(0.3)
    pids = lab.processes()
    assert sleeper.pid in pids
    assert len(pids) >= 5  # 2 holders, 2 sshd, the sleeper
    lab.down()
    sleeper.wait(timeout=5)
    assert not [ns for ns in core.list_netns() if ns.startswith(lab.prefix)]
    assert not any(os.path.exists("/proc/%d" % pid) and not core._zombie(pid) for pid in pids)
    assert not os.path.exists(lab.dir)
    lab.down()  # idempotent


def test_down_cleans_up_without_state_files(fresh_lab, topology_file):
    lab = fresh_lab
    lab.up(topology_file)
    pids = lab.processes()
    subprocess.run(["rm", "-rf", lab.dir], check=True)  # as if the state was lost
    lab.down()
    assert not [ns for ns in core.list_netns() if ns.startswith(lab.prefix)]
    assert not any(os.path.exists("/proc/%d" % pid) and not core._zombie(pid) for pid in pids)


def test_down_after_an_interrupted_up(fresh_lab, topology_file):
    lab = fresh_lab
    cli = os.path.join(REPO, "lab", "lab.py")
    proc = subprocess.Popen([sys.executable, cli, "up", topology_file, "--name", lab.name],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while lab.holder_pid("host1") is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert [ns for ns in core.list_netns() if ns.startswith(lab.prefix)]  # half-built
    lab.down()
    assert not [ns for ns in core.list_netns() if ns.startswith(lab.prefix)]
    assert not lab.processes()
    assert not os.path.exists(lab.dir)


def test_down_finds_a_daemon_whose_namespace_is_already_gone(fresh_lab, topology_file):
    """An sshd that an interrupted `up` was still starting can outlive its host's namespace:
    down recognises it by the lab files on its command line."""
    lab = fresh_lab
    lab.up(topology_file)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSNET_LAB")}
    straggler = subprocess.Popen(["unshare", "--net", sys.executable, "-c", "import time; time.sleep(600)",
                                  os.path.join(lab.dir, "hosts", "host1", "sshd_config")], env=env)
    time.sleep(0.3)
    lab.down()
    assert straggler.wait(timeout=5) != 0


def test_labs_do_not_touch_each_other(lab, topology_file):
    other = core.Lab(lab_name("o"))
    try:
        other.up(topology_file)
        assert other.ssh("host1", ["true"]).returncode == 0
    finally:
        other.down()
    assert lab.healthy()
    assert lab.ssh("host1", ["true"]).returncode == 0


def test_cli_list_and_down_all_but_the_kept(lab, topology_file):
    """What scripts/test.sh does at its end: every lab goes down but those up before it."""
    cli = [sys.executable, os.path.join(REPO, "lab", "lab.py")]
    other = core.Lab(lab_name("k"))
    try:
        other.up(topology_file)
        names = subprocess.run(cli + ["list"], capture_output=True, text=True, check=True).stdout.split()
        assert lab.name in names and other.name in names
        subprocess.run(cli + ["down", "--all", "--keep"] + [n for n in names if n != other.name], check=True)
        assert not other.processes()
        assert not os.path.exists(other.dir)
        assert lab.healthy()
        refused = subprocess.run(cli + ["down", lab.name, "--keep", lab.name], capture_output=True, text=True,
                                 check=False)
        assert refused.returncode == 2 and "--keep goes with --all" in refused.stderr
        assert lab.healthy()
    finally:
        other.down()


def test_cli_status_and_exec(lab):
    cli = [sys.executable, os.path.join(REPO, "lab", "lab.py")]
    status = subprocess.run(cli + ["status", lab.name], capture_output=True, text=True, check=True)
    assert '"healthy": true' in status.stdout
    name = subprocess.run(cli + ["exec", lab.name, "host2", "--", "hostname"],
                          capture_output=True, text=True, check=True)
    assert name.stdout.strip() == "host2"
    missing = subprocess.run(cli + ["exec", lab.name, "nohost", "--", "true"],
                             capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "no node" in missing.stderr


@pytest.fixture
def netns():
    """Two namespaces of the test's own, NAME and NAMEb (loopback up; in NAME, v0 192.0.2.1/24
    toward a veth end that never answers), every process in them killed and both deleted
    afterwards."""
    name = "twho%d" % (os.getpid() % 100000)
    ip = ["ip", "-n", name]
    try:
        for ns in (name, name + "b"):
            subprocess.run(["ip", "netns", "add", ns], check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        subprocess.run(ip + ["link", "add", "v0", "type", "veth", "peer", "name", "v1"], check=True)
        subprocess.run(ip + ["addr", "add", "192.0.2.1/24", "dev", "v0"], check=True)
        subprocess.run(ip + ["link", "set", "v0", "up"], check=True)
        subprocess.run(ip + ["link", "set", "v1", "up"], check=True)
        yield name
    finally:
        for ns in (name, name + "b"):
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False).stdout
            for pid in pids.split():
                os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True, check=False)
    assert name not in core.list_netns() and name + "b" not in core.list_netns()


def test_whoami_server_lives_until_its_stdin_closes_and_a_sweep_answers_per_address(netns):
    before = machine_addresses()
    # One server in NAME listening in its own namespace and in NAMEb, as the probe runs one per host.
    server = subprocess.Popen(["ip", "netns", "exec", netns, core.PYTHON, core.WHOAMI, "serve", "7007", "3600",
                               "stdin", ".", netns + "b"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        start = time.monotonic()
        # 127.0.0.1 answers; 192.0.2.9 is on v0's link but nobody is there.
        sweep = subprocess.run(["ip", "netns", "exec", netns, core.PYTHON, core.WHOAMI, "sweep", "7007", "1",
                                "127.0.0.1", "192.0.2.9"], capture_output=True, text=True, timeout=30, check=False)
        took = time.monotonic() - start
        assert sweep.returncode == 0, sweep.stderr
        live, dead = [json.loads(line) for line in sweep.stdout.splitlines()]
        assert live["address"] == "127.0.0.1" and live["seen"] == "127.0.0.1" and live["error"] is None
        assert isinstance(live["ping_ms"], float)
        assert dead["address"] == "192.0.2.9" and dead["ping_ms"] is None and dead["seen"] is None
        assert "ping: no echo reply" in dead["error"] and "ask: " in dead["error"]
        assert took < 6  # the dead address costs its timeouts (1 s echo, 1 s ask), not more
        other = subprocess.run(["ip", "netns", "exec", netns + "b", core.PYTHON, core.WHOAMI, "sweep", "7007", "1",
                                "127.0.0.1"], capture_output=True, text=True, timeout=30, check=False)
        assert json.loads(other.stdout)["seen"] == "127.0.0.1", other.stdout + other.stderr
        # Still serving after the sweep: only the end of its standard input stops it.
        assert server.poll() is None
        server.stdin.close()
        assert server.wait(timeout=5) == 0
    finally:
        server.kill()
        server.wait()
        server.stdout.close()
    assert machine_addresses() == before


def test_whoami_server_ends_when_the_process_holding_its_stdin_dies(netns):
    """As when the probe is killed: the pipe closes with it, and the server goes."""
    script = """if True:
        import subprocess, sys, time
        server = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        print(server.pid, server.stdout.readline().strip(), flush=True)
        time.sleep(600)
        """
    serve = ["ip", "netns", "exec", netns, core.PYTHON, core.WHOAMI, "serve", "7007", "3600", "stdin"]
    holder = subprocess.Popen([sys.executable, "-c", script] + serve, stdout=subprocess.PIPE, text=True)
    try:
        pid, ready = holder.stdout.readline().split()
        assert ready == "ready"
        holder.kill()
        holder.wait()
        deadline = time.monotonic() + 5
        while os.path.exists("/proc/%s" % pid) and not core._zombie(int(pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists("/proc/%s" % pid) or core._zombie(int(pid))
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_probe_from_the_first_container_of_each_host(fresh_lab):
    """three_hosts: host1 has web and db, host2 app, host3 none.  After converging, --sources
    first probes from host1/web and host2/app only, to every target, and every path is as
    expected; its rows are those of the full probe from those containers."""
    lab = fresh_lab
    lab.up(os.path.join(REPO, "lab", "topologies", "three_hosts.yml"))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=lab.collections, ANSIBLE_NOCOLOR="1")
    converge = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", lab.inventory,
                               os.path.join(REPO, "playbooks", "site.yml")],
                              capture_output=True, text=True, env=env, cwd=REPO, timeout=300, check=False)
    assert converge.returncode == 0, converge.stdout[-3000:] + converge.stderr[-2000:]
    report = os.path.join(lab.dir, "probe-first.json")
    cli = subprocess.run([sys.executable, os.path.join(REPO, "lab", "lab.py"), "probe", lab.name, "--sources", "first",
                          "--check", "--json", report], capture_output=True, text=True, timeout=120, check=False)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "10 of 10 paths as expected" in cli.stdout
    with open(report, encoding="utf-8") as handle:
        first = json.load(handle)
    assert list(dict.fromkeys(row["from"] for row in first)) == ["host1/web", "host2/app"]
    targets = ["host1/web", "host1/db", "host2/app", "host1", "host2", "host3", "outside"]
    assert [row["to"] for row in first] == [t for t in targets if t not in ("host1/web", "host1")] + \
        [t for t in targets if t not in ("host2/app", "host2")]
    assert set(first[0]) == {"from", "to", "kind", "family", "address", "expected_source", "path", "ping",
                             "ping_ms", "seen_source", "error", "ok", "seconds"}
    assert {row["family"] for row in first} == {4}  # an IPv4-only lab: IPv4 rows only
    assert "IPv6" not in cli.stdout and "by family" not in cli.stdout  # and its output as before
    assert all(row["path"] == [] for row in first)  # one segment: no router on any path
    every = probe.probe(lab, sources="all", jobs=2)
    assert len(every) == 15 and all(row["ok"] for row in every)
    volatile = ("ping_ms", "seconds")
    assert [{k: v for k, v in row.items() if k not in volatile} for row in first] == \
        [{k: v for k, v in row.items() if k not in volatile} for row in every if row["from"] in ("host1/web", "host2/app")]
    # Every server the probe started is gone: nothing of the lab listens on the probe's port.
    assert "7007" not in lab.run("host1", ["ss", "-Htln"], netns="web", check=True).stdout
