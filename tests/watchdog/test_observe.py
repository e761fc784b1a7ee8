"""Observation pieces that need no tmux: Claude's session-status file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agent_orchestrator.watchdog.observe import claude_session_status


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
