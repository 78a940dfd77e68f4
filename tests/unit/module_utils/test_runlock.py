import multiprocessing
import os
import subprocess
import sys

import pytest

from ansible_collections.crossnet.routed.plugins.module_utils import runlock


@pytest.fixture
def lock_path(tmp_path):
    return str(tmp_path / "lock" / "crossnet.lock")


CONTROLLER = {"host": "ctl1", "pid": 4242, "started": "77", "boot_id": "b"}


def test_first_owner_gets_the_lease(lock_path):
    lease = runlock.try_acquire(lock_path, "run-a", ttl=60, now=1000, controller=CONTROLLER)
    assert lease["owner"] == "run-a"
    assert runlock.read(lock_path)["expires"] == 1060
    assert runlock.read(lock_path)["controller"] == CONTROLLER
    assert oct(os.stat(lock_path).st_mode & 0o777) == "0o600"


def test_second_owner_is_refused_while_the_lease_lives(lock_path):
    runlock.try_acquire(lock_path, "run-a", ttl=60, now=1000)
    with pytest.raises(runlock.LockHeld) as held:
        runlock.try_acquire(lock_path, "run-b", ttl=60, now=1059)
    assert held.value.lease["owner"] == "run-a"


def test_expired_lease_is_taken_over(lock_path):
    runlock.try_acquire(lock_path, "run-a", ttl=60, now=1000)
    assert runlock.try_acquire(lock_path, "run-b", ttl=60, now=1061)["owner"] == "run-b"


def test_same_owner_renews(lock_path):
    runlock.try_acquire(lock_path, "run-a", ttl=60, now=1000)
    assert runlock.try_acquire(lock_path, "run-a", ttl=60, now=1050)["expires"] == 1110


def test_release_only_by_the_holder(lock_path):
    runlock.try_acquire(lock_path, "run-a", ttl=60, now=1000)
    assert runlock.release(lock_path, "run-b") is False
    assert runlock.read(lock_path)["owner"] == "run-a"
    assert runlock.release(lock_path, "run-a") is True
    assert runlock.read(lock_path) is None


def test_acquire_waits_then_names_the_holder(lock_path):
    runlock.try_acquire(lock_path, "run-a", ttl=600)
    with pytest.raises(runlock.LockHeld) as held:
        runlock.acquire(lock_path, "run-b", ttl=600, timeout=0.3, poll=0.1)
    assert held.value.lease["owner"] == "run-a"


def _contend(path, owner, results):
    try:
        runlock.try_acquire(path, owner, ttl=600)
        results.put(owner)
    except runlock.LockHeld:
        results.put(None)


def test_only_one_of_many_concurrent_runs_wins(lock_path):
    os.makedirs(os.path.dirname(lock_path))
    results = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_contend, args=(lock_path, "run-%d" % i, results)) for i in range(8)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    winners = [w for w in (results.get() for dummy in procs) if w]
    assert len(winners) == 1
    assert runlock.read(lock_path)["owner"] == winners[0]


def test_breaking_takes_over_only_the_named_owners_lease(lock_path):
    runlock.try_acquire(lock_path, "run-a", ttl=600, now=1000, controller=CONTROLLER)
    with pytest.raises(runlock.LockHeld):
        runlock.try_acquire(lock_path, "run-b", ttl=600, now=1001, break_owner="run-x")
    assert runlock.read(lock_path)["owner"] == "run-a"
    runlock.try_acquire(lock_path, "run-b", ttl=600, now=1001, break_owner="run-a")
    assert runlock.read(lock_path)["owner"] == "run-b"
    # The dead run's name no longer breaks anything: run-b's lease stands.
    with pytest.raises(runlock.LockHeld):
        runlock.try_acquire(lock_path, "run-c", ttl=600, now=1002, break_owner="run-a")


def test_describe_names_the_holder_and_its_controller():
    text = runlock.describe({"owner": "run-a", "expires": 1100, "controller": CONTROLLER}, now=1000)
    assert text == "run 'run-a' (controller ctl1 pid 4242, lease expires in 100 s)"


# -- is the controller process of a lease gone? ----------------------------------------------
def test_a_running_process_is_not_gone():
    me = runlock.process_identity(os.getpid())
    assert me["started"] and me["boot_id"]
    assert runlock.process_gone(me) is False


def test_an_exited_process_is_gone():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    identity = runlock.process_identity(child.pid)
    child.wait()
    assert runlock.process_gone(identity) is True


def test_a_killed_but_unreaped_process_is_gone():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        identity = runlock.process_identity(child.pid)
        assert runlock.process_gone(identity) is False
        child.kill()
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # a zombie now, not reaped
        assert runlock.process_gone(identity) is True
    finally:
        child.kill()
        child.wait()


def test_a_reused_pid_or_a_reboot_means_gone():
    me = runlock.process_identity(os.getpid())
    assert runlock.process_gone(dict(me, started=str(int(me["started"]) + 1))) is True
    assert runlock.process_gone(dict(me, boot_id="another-boot")) is True


@pytest.mark.parametrize("identity", [{}, {"pid": None}, {"pid": "12"}, {"pid": True}, {"pid": 0}])
def test_an_identity_that_cannot_be_judged_is_not_gone(identity):
    assert runlock.process_gone(identity) is False
