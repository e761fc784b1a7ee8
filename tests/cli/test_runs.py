"""The verb `run`: what it refuses, and a malformed runs file as one clear line."""

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
tmux_socket = "ao-test-runs-cli-unused"

[[agent]]
name = "lead"

[[agent]]
name = "fixer"
kind = "task"
dir = "fixer"
"""

runner = CliRunner()


def agents(*args: str):
    return runner.invoke(app, normalize_argv(list(args)))


def project(tmp_path: Path) -> Path:
    (tmp_path / "fixer" / ".git").mkdir(parents=True)
    (tmp_path / "p.md").write_text("go\n")
    path = tmp_path / "agents.toml"
    path.write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    return path


def test_run_refuses_an_agent_that_is_not_a_task_agent(tmp_path: Path) -> None:
    path = project(tmp_path)
    done = agents("run", "7", "--agent", "lead", "--prompt-file", str(tmp_path / "p.md"), "--config", str(path))
    assert done.exit_code == 2 and 'kind = "task"' in done.output


def test_a_malformed_runs_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    path = project(tmp_path)
    runs = tmp_path / "run" / "state" / "runs.json"
    runs.parent.mkdir(parents=True)
    runs.write_text(json.dumps({"runs": {"7": {"agent": "fixer", "repo": "fixer", "started_at": "noon"}}}))
    done = agents("run", "8", "--agent", "fixer", "--prompt-file", str(tmp_path / "p.md"), "--config", str(path))
    assert done.exit_code == 1 and "Traceback" not in done.output
    assert done.output.strip() == f"{runs}: issue 7: started_at: expected epoch seconds, got 'noon'; fix or remove that record"
