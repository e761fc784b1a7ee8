"""What a new machine gets wrong is one line saying how to fix it, never a traceback: tmux missing
from PATH, a checkout run by a Python without the project's dependencies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.tmux import write_config

ROOT = Path(__file__).resolve().parents[2]


def test_tmux_not_on_path_is_one_line(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, '[[agent]]\nname = "alice"\n')
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    for verb in (["status"], ["up"], ["down"]):
        done = subprocess.run([sys.executable, "-m", "agent_orchestrator", "--config", str(path), *verb], capture_output=True, text=True,
                              env={**os.environ, "PATH": str(empty)}, timeout=60, check=False)
        assert done.returncode == 1, (verb, done.stderr)
        assert done.stderr.splitlines() == [
            "agents: tmux is not installed or not on PATH; install it (e.g. `apt install tmux`, `brew install tmux`) and run this again"
        ], (verb, done.stderr)


def test_a_checkout_run_without_its_dependencies_says_how_to_bootstrap(tmp_path: Path) -> None:
    # -S: no site-packages, as with a system python3 that never had `pip install -e .`
    for launcher, prog in (("agents.py", "agents"), ("agent-log.py", "agent-log")):
        done = subprocess.run([sys.executable, "-S", str(ROOT / launcher), "--help"], capture_output=True, text=True, cwd=tmp_path,
                              timeout=60, check=False)
        assert done.returncode == 1, done.stderr
        lines = done.stderr.splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
        assert lines[0].startswith(f"{prog}: the Python package 'typer' is missing for this Python ({sys.executable}): ")
        assert f"{ROOT / 'scripts' / 'bootstrap.sh'}" in lines[0]
