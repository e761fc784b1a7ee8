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
