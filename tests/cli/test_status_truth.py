"""`status` and `phase show` say what is true: the phase clock stops at SEQUENCE-COMPLETE, an agent
disabled while it runs is shown as still running, a held agent keeps its real state beside the hold.
Real tmux on a private socket, the demo backend."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.watchdog.driver import Watchdog
from agent_orchestrator.watchdog.state import PhaseState, WatchdogState, save_state
from tests.support.tmux import screen_has, wait_until, write_config

runner = CliRunner()


def agents(*args: str):
    return runner.invoke(app, normalize_argv(list(args)))


def rows(config: Path) -> dict[str, dict]:
    result = agents("status", "--json", "--config", str(config))
    assert result.exit_code == 0, result.output
    return {r["name"]: r for r in json.loads(result.output)["agents"]}


def test_time_in_phase_stops_at_sequence_complete(tmp_path: Path, socket: str) -> None:
    (tmp_path / "kickoff.md").write_text("go")
    (tmp_path / "plan.md").write_text("plan")
    path = write_config(tmp_path, socket, """
        [loop]
        kickoff = "kickoff.md"
        phases = [{ id = "p1", plan = "plan.md", status = "status.md" }]
    """)
    save_state(tmp_path / "run", WatchdogState(phase=PhaseState(index=0, started=1_000_000.0, complete=True, completed_at=1_000_250.0)))
    shown = agents("phase", "show", "--json", "--config", str(path))
    assert json.loads(shown.output)["in_phase_s"] == 250.0  # not "now - started", which keeps growing
    table = agents("phase", "show", "--config", str(path)).output
    assert "4m10s (until the sequence completed)" in table


def test_an_agent_disabled_while_it_runs_shows_running_to_disabled(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, '[[agent]]\nname = "alice"\n')
    Project(load_config(path)).up(["alice"], watchdog=False)
    path.write_text(path.read_text().replace('name = "alice"', 'name = "alice"\nenabled = false'))
    alice = rows(path)["alice"]
    assert (alice["state"], alice["enabled"]) == ("running", False)
    table = agents("status", "--config", str(path)).output
    assert "running → disabled" in table
    assert "alice: enabled = false, but its session still runs; `agents down alice` stops it" in table
    up = agents("up", "--config", str(path))
    assert "enabled = false (still running: `agents down alice` stops it)" in up.output
    agents("down", "--config", str(path))


def test_a_paused_agent_that_died_shows_both(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, '[[agent]]\nname = "alice"\n')
    proj = Project(load_config(path))
    proj.up(["alice"], watchdog=False)
    assert wait_until(screen_has(proj.runtime, "t-alice", "demo>"))
    assert agents("pause", "alice", "--config", str(path)).exit_code == 0
    Watchdog(path).run(once=True)  # applies the pause
    os.kill(proj.runtime.agent_pid("t-alice") or 0, signal.SIGKILL)
    assert wait_until(lambda: proj.runtime.observe()["t-alice"].dead)
    alice = rows(path)["alice"]
    assert (alice["state"], alice["hold"], alice["exit_code"]) == ("dead", "paused", 137)
    table = agents("status", "--config", str(path)).output
    assert "dead (137) · paused" in table and "alice: paused — paused by the operator" in table
    agents("down", "--config", str(path))
