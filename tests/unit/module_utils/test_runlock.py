import multiprocessing
import os

import pytest

from ansible_collections.crossnet.routed.plugins.module_utils import runlock


@pytest.fixture
def lock_path(tmp_path):
    return str(tmp_path / "lock" / "crossnet.lock")


def test_first_owner_gets_the_lease(lock_path):
    lease = runlock.try_acquire(lock_path, "run-a", ttl=60, now=1000)
    assert lease["owner"] == "run-a"
    assert runlock.read(lock_path)["expires"] == 1060
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
