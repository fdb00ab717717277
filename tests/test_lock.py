from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from pipeline.lock import LockedError, RunLock

HOLD_LOCK = """
import sys, time
from pipeline.lock import RunLock
lock = RunLock(sys.argv[1]); lock.acquire()
print("locked", flush=True)
time.sleep(60)
"""


def hold_in_child(db_path):
    child = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db_path)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "locked"
    return child


def test_second_holder_is_refused_with_the_holders_pid(tmp_path):
    child = hold_in_child(tmp_path / "x.db")
    try:
        with pytest.raises(LockedError, match=f"pid {child.pid}"):
            RunLock(tmp_path / "x.db").acquire()
    finally:
        child.kill()
        child.wait()


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
    child = hold_in_child(tmp_path / "x.db")
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert (tmp_path / "x.db.lock").exists()  # the stale file stays behind ...
    with RunLock(tmp_path / "x.db") as lock:  # ... and is taken over
        assert f"pid {os.getpid()}" in lock.path.read_text()


def test_release_lets_the_next_run_in(tmp_path):
    with RunLock(tmp_path / "x.db"):
        pass
    with RunLock(tmp_path / "x.db"):
        pass

