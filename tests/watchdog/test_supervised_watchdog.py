"""The watchdog that `up` starts comes back on its own when it is killed: its pane launcher
supervises it (runtime/launcher.py `_supervise`, policy `project.WATCHDOG_SUPERVISION`). Real tmux
on a private socket, demo agents, a real `agents watchdog` process. Every wait is bounded and on
the real condition (who holds the project lock, the event log); nothing sleeps to synchronise."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.launcher import supervision
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchdog.lock import lock_holder
from tests.support.tmux import wait_until, write_config

pytestmark = pytest.mark.tmux

BODY = """
[watchdog]
signal_interval = 1
heavy_interval = 1

[[agent]]
name = "alice"
kind = "persistent"
watch = "heal"
prompt = "Hello."
"""


def holder(log_dir: Path) -> int | None:
    pid = lock_holder(log_dir)
    return pid if pid is not None and pid > 0 else None


def events(log_dir: Path, kind: str) -> list[dict]:
    return [e for e in read_events(log_dir) if e.get("action") == kind]


def status(path: Path) -> str:
    result = CliRunner().invoke(app, normalize_argv(["status", "--config", str(path)]))
    assert result.exit_code == 0, result.output
    return result.output


def test_a_killed_watchdog_is_back_at_once_and_status_says_so(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, BODY)
    project = Project(load_config(path))
    log_dir = project.log_dir
    try:
        assert {o.name: o.action for o in project.up()}["watchdog"] == "started"
        assert wait_until(lambda: holder(log_dir) is not None, timeout=60), "the watchdog never took the lock"
        first = holder(log_dir)
        assert first is not None
        # The lock is taken before the start is logged: kill only a watchdog that has said it started.
        assert wait_until(lambda: len(events(log_dir, "watchdog-start")) == 1, timeout=60), list(read_events(log_dir))
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: holder(log_dir) not in (None, first), timeout=60), "no watchdog came back after SIGKILL"
        second = holder(log_dir)
        assert wait_until(lambda: len(events(log_dir, "watchdog-start")) == 2, timeout=60), list(read_events(log_dir))
        record = supervision(project.spec_dir, project.config.watchdog_session)
        assert record is not None and record["restarts"] == 1 and record["last_exit"] == 128 + signal.SIGKILL
        assert "watchdog: restarted 1× by its launcher (last exit 137)" in status(path)
        # `down` ends supervision: nothing comes back.
        project.down()
        assert wait_until(lambda: holder(log_dir) is None, timeout=30), f"watchdog {second} still holds the lock after down"
        assert not project.runtime.has_session(project.config.watchdog_session)
    finally:
        project.down()


def test_a_watchdog_restarted_on_a_broken_edit_runs_on_the_last_good_config(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, BODY)
    project = Project(load_config(path))
    log_dir = project.log_dir
    try:
        project.up()
        assert wait_until(lambda: holder(log_dir) is not None, timeout=60), "the watchdog never took the lock"
        first = holder(log_dir)
        assert first is not None
        path.write_text(path.read_text() + "\n[watchdog.bogus]\n", encoding="utf-8")  # does not validate
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: holder(log_dir) not in (None, first), timeout=60), "no watchdog came back on the broken edit"
        assert wait_until(lambda: any("started on the last good config" in e.get("reason", "") for e in events(log_dir, "config-invalid")),
                          timeout=60), list(read_events(log_dir))
        # It keeps healing on the last good config: kill alice's pane process; she is started again.
        before = project.runtime.agent_pid(project.config.agents[0].session or "")
        assert before is not None
        os.kill(before, signal.SIGKILL)
        assert wait_until(lambda: any(e.get("agent") == "alice" for e in events(log_dir, "heal")), timeout=60), list(read_events(log_dir))
    finally:
        project.down()
