"""The project lock: one watchdog per project, taken over from a dead holder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_orchestrator.watchdog.lock import LockHeld, ProjectLock, lock_holder


def test_lock_names_its_holder_and_frees_on_release(tmp_path: Path) -> None:
    first = ProjectLock(tmp_path)
    first.acquire()
    assert lock_holder(tmp_path) == os.getpid()
    with pytest.raises(LockHeld) as info:
        ProjectLock(tmp_path).acquire()
    assert f"pid {os.getpid()}" in str(info.value)
    first.release()
    assert lock_holder(tmp_path) is None
    second = ProjectLock(tmp_path)
    second.acquire()  # a lock left by a process that is gone is simply taken over
    second.release()


def test_a_passing_probe_is_not_a_holder(tmp_path: Path) -> None:
    """`lock_holder` (status, phase verbs, a test's wait) takes a shared lock for an instant: a
    watchdog starting at that instant must not refuse as if another one ran."""
    import fcntl
    import threading

    probe = os.open(tmp_path / "watchdog.lock", os.O_RDONLY | os.O_CREAT, 0o644)
    fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)  # a probe caught mid-way
    threading.Timer(0.02, lambda: os.close(probe)).start()
    lock = ProjectLock(tmp_path)
    lock.acquire()
    assert lock_holder(tmp_path) == os.getpid()
    lock.release()
