"""The verbs `pause` and `resume`: a queued request for the watchdog, and what will happen."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv

CONFIG = """
[defaults]
session_prefix = "t-"
log_dir = "run"
backend = "demo"
tmux_socket = "ao-test-supervise-cli-unused"

[[agent]]
name = "lead"

[[agent]]
name = "claims"
backend = "watcher"
watcher = "claims"
notify = "lead"

[[service]]
name = "svc"
cmd = ["true"]
"""

runner = CliRunner()


def agents(*args: str):
    return runner.invoke(app, normalize_argv(list(args)))


def test_pause_and_resume_queue_a_request_and_say_what_happens(tmp_path: Path) -> None:
    path = tmp_path / "agents.toml"
    path.write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    paused = agents("pause", "lead", "--config", str(path))
    assert paused.exit_code == 0 and "no watchdog is running" in paused.output and "until `agents resume lead`" in paused.output
    requests = sorted((tmp_path / "run" / "state" / "requests").glob("*.json"))
    assert [json.loads(p.read_text())["action"] for p in requests] == ["pause"]
    resumed = agents("resume", "lead", "--config", str(path))
    assert resumed.exit_code == 0 and "supervises lead again" in resumed.output
    assert "a paused watcher's ticks do nothing" in agents("pause", "claims", "--config", str(path)).output
    assert agents("pause", "nobody", "--config", str(path)).exit_code == 2
    service = agents("resume", "svc", "--config", str(path))
    assert service.exit_code == 2 and "a service; only agents can be resumed" in service.output
