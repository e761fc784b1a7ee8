"""Small things a user notices: `--version`, tables that keep their columns in a pipe, token columns in
config order from one run to the next, plain flags without `<bool>` in help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from agent_orchestrator import __version__
from agent_orchestrator.cli.app import app, normalize_argv
from tests.support.tmux import write_config

runner = CliRunner()


def agents(*args: str):
    return runner.invoke(app, normalize_argv(list(args)))


def test_version() -> None:
    result = agents("--version")
    assert result.exit_code == 0 and result.output == f"agents {__version__}\n"


def test_a_piped_table_keeps_every_column_on_its_row(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, """
        [[agent]]
        name = "an-agent-with-a-rather-long-name"
        model = "a-model-name-that-is-long-too"
    """, prefix="a-prefix-that-pushes-the-session-name-out-")
    done = subprocess.run([sys.executable, "-m", "agent_orchestrator", "--config", str(path), "status"], capture_output=True, text=True,
                          timeout=60, check=False, env={k: v for k, v in os.environ.items() if k != "COLUMNS"})
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if "an-agent-with" in line)
    for cell in ("an-agent-with-a-rather-long-name", "a-model-name-that-is-long-too",
                 "a-prefix-that-pushes-the-session-name-out-an-agent-with-a-rather-long-name", "stopped"):
        assert cell in row, (cell, done.stdout)
    assert len(row) > 80 and "…" not in done.stdout


def test_token_columns_follow_the_config_whoever_spent_tokens(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, f"""
        [backend.claude]
        bin = "{sys.executable}"

        [[agent]]
        name = "builder"
        backend = "claude"

        [[agent]]
        name = "adversary"
        backend = "claude"

        [[agent]]
        name = "helper"
    """)
    usage = {"input": 1, "output": 1, "cache_read": 0, "cache_write": 0, "total": 2}
    records = [
        {"phase_id": "p1:G1", "gate": "G1", "started": 1.0, "ended": 2.0, "duration_s": 1.0, "agents": {"adversary": usage}, "total": usage},
        {"phase_id": "p1", "gate": None, "started": 1.0, "ended": 3.0, "duration_s": 2.0,
         "agents": {"adversary": usage, "builder": {**usage, "total": 4}}, "total": usage},
    ]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "token-log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    table = agents("tokens", "--config", str(path)).output
    header = next(line for line in table.splitlines() if "phase / gate" in line)
    assert header.split() == ["phase", "/", "gate", "┃", "builder", "┃", "adversary", "┃", "total", "┃", "duration"]  # helper: demo, no transcripts
    printed = json.loads(agents("tokens", "--json", "--config", str(path)).output)
    assert [list(r["agents"]) for r in printed] == [["adversary"], ["builder", "adversary"]]


def test_plain_flags_have_no_type_in_help() -> None:
    for verb in (["status"], ["down"], ["tokens"], ["phase", "show"], ["flags"], []):
        text = agents(*verb, "--help").output
        assert "<bool>" not in text, (verb, text)
        assert "--help" in text
    assert "NAME" in agents("status", "--help").output  # an option that takes a value keeps it
