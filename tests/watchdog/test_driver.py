"""Driver pieces that need no tmux: Claude's session-status file, the project lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent_orchestrator.watchdog.driver import LockHeld, ProjectLock, claude_session_status, lock_holder


def test_session_status_is_read_only_for_a_live_pid(tmp_path: Path) -> None:
    sessions = tmp_path / ".claude" / "sessions"
    sessions.mkdir(parents=True)
    (sessions / f"{os.getpid()}.json").write_text(json.dumps({"status": "busy", "sessionId": "s"}))
    assert claude_session_status(tmp_path, os.getpid()) == "busy"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (sessions / f"{pid}.json").write_text(json.dumps({"status": "busy"}))  # left behind by a SIGKILL
    assert claude_session_status(tmp_path, pid) is None
    assert claude_session_status(tmp_path, None) is None
    (sessions / f"{os.getpid()}.json").write_text("{torn")
    assert claude_session_status(tmp_path, os.getpid()) is None


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


def test_content_hash_ignores_ticking_timers_and_spinner_glyphs() -> None:
    from agent_orchestrator.screen.facts import content_hash

    at_16 = ["❯ Build it", "✽ Mulling… (16s · ↓ 24 tokens)", "  ⏵⏵ bypass permissions on · esc to interrupt"]
    at_45 = ["❯ Build it", "✶ Mulling… (45s · ↓ 24 tokens)", "  ⏵⏵ bypass permissions on · esc to interrupt"]
    moved = ["❯ Build it", "● Bash(git commit -m 'claim(G1)')", "  ⏵⏵ bypass permissions on · esc to interrupt"]
    assert content_hash(at_16) == content_hash(at_45)
    assert content_hash(at_16) != content_hash(moved)
