"""Control folders get explicit modes whatever the umask (runtime/folders.py).

A child process with `os.umask(0)` does what a user's first run does — `up` (last good config,
the team on a private tmux socket), a watchdog tick (lock, state, launch specs, the git mirror of
a real origin), a CLI request, the Claude hook settings — and the folders it made are checked:
`<log_dir>` 0o755, everything that steers the watchdog 0o700, never 0o777.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agent_orchestrator.runtime.folders import PRIVATE, SHARED, ensure_dir
from tests.support.tmux import write_config

pytestmark = pytest.mark.tmux

FIRST_RUN = """
import json, os, sys
from pathlib import Path

os.umask(0)
from agent_orchestrator.agents.hooks import claude_settings
from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.watchdog.driver import Watchdog
from agent_orchestrator.watchdog.requests import request_watchdog

path = Path(sys.argv[1])
config = load_config(path)
config.remember()
project = Project(config)
try:
    project.up(watchdog=False)
    Watchdog(path).run(once=True)
    request_watchdog(project.log_dir, "pause", "builder")
    claude_settings(project.log_dir, "builder")
finally:
    project.down()
"""

BODY = """
[[agent]]
name = "builder"
kind = "loop"
watch = "heal"
dir = "work"

[loop]
kickoff = "kickoff.md"
repo = "work"
phases = [{ id = "p1", plan = "plan.md", status = "status.md" }]
"""


def git(*args: str) -> None:
    subprocess.run(["git", *args], check=True, capture_output=True)


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


def test_a_first_run_under_umask_000_makes_no_world_writable_control_folder(tmp_path: Path, socket: str, own_home: Path) -> None:
    (own_home / ".gitconfig").write_text("[user]\n\tname = T\n\temail = t@example.invalid\n[init]\n\tdefaultBranch = main\n")
    git("init", "-q", "--bare", str(tmp_path / "origin.git"))
    git("clone", "-q", str(tmp_path / "origin.git"), str(tmp_path / "work"))
    git("-C", str(tmp_path / "work"), "commit", "-q", "--allow-empty", "-m", "init")
    git("-C", str(tmp_path / "work"), "push", "-q", "origin", "HEAD:main")
    (tmp_path / "kickoff.md").write_text("Phase {phase_id}: read {plan}")
    (tmp_path / "plan.md").write_text("the plan")
    path = write_config(tmp_path, socket, BODY)
    done = subprocess.run([sys.executable, "-c", FIRST_RUN, str(path)], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"})
    assert done.returncode == 0, done.stderr
    log_dir = tmp_path / "run"
    modes = {rel: mode(log_dir / rel) for rel in ("", "state", "state/requests", "hooks", "launch", "wake", "git", "git/handoff.git")
             if (log_dir / rel).exists()}
    assert (log_dir / "git" / "handoff.git" / "HEAD").exists(), "the tick made no git mirror"
    expected = {"": oct(SHARED), "state": oct(PRIVATE), "state/requests": oct(PRIVATE), "hooks": oct(PRIVATE),
                "launch": oct(PRIVATE), "wake": oct(PRIVATE), "git": oct(PRIVATE)}
    assert {k: v for k, v in modes.items() if k != "git/handoff.git"} == expected
    assert mode(log_dir / "events.jsonl") == "0o644"
    index = own_home / ".local" / "state" / "agent-orchestrator" / "projects"
    assert mode(index) == oct(PRIVATE) and json.loads(next(index.iterdir()).read_text())["config"] == str(path)


def test_ensure_dir_leaves_an_existing_folder_alone_and_names_a_file_in_the_way(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    mine.chmod(0o750)
    assert ensure_dir(mine, PRIVATE) == mine and mode(mine) == "0o750"
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        ensure_dir(tmp_path / "file", PRIVATE)
    deep = ensure_dir(tmp_path / "a" / "b" / "c", PRIVATE)
    assert [mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", deep)] == ["0o700"] * 3


