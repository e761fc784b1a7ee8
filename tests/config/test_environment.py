"""`validate` (and `up`) name what the machine lacks — a working folder that does not exist, an agent
CLI that is not on PATH or not executable — and a pane whose folder is missing says so, instead of
"not found on PATH"."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.tmux import TmuxRuntime
from tests.support.tmux import write_config

runner = CliRunner()


def agents(*args: str):
    return runner.invoke(app, normalize_argv(list(args)))


def test_missing_folders_are_named_by_key(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, """
        [[agent]]
        name = "alice"
        dir = "wrok"

        [[agent]]
        name = "off"
        dir = "not-yet"
        enabled = false

        [[service]]
        name = "svc"
        cmd = ["sleep", "60"]
        dir = "srv"

        [loop]
        kickoff = "kickoff.md"
        repo = "work"
        phases = []
    """)
    (tmp_path / "kickoff.md").write_text("go")
    result = agents("validate", "--config", str(path))
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"{path}: agent[0].dir: working directory {tmp_path / 'wrok'} does not exist (of alice; create it or fix dir)",
        f"{path}: service[0].dir: working directory {tmp_path / 'srv'} does not exist (of svc; create it or fix dir)",
        f"{path}: loop.repo: {tmp_path / 'work'} does not exist (the handoff clone; clone it there or fix repo)",
    ]  # the disabled agent's folder is not needed by `up`, so not reported


def test_a_backend_binary_that_is_not_on_path_or_not_executable(tmp_path: Path, socket: str) -> None:
    (tmp_path / "tool.sh").write_text("#!/bin/sh\necho hi\n")  # not chmod +x
    path = write_config(tmp_path, socket, """
        [backend.claude]
        bin = "claudee"

        [backend.mine]
        bin = "./tool.sh"

        [backend.spare]
        bin = "not-used-by-an-enabled-agent"

        [[agent]]
        name = "alice"
        backend = "claude"

        [[agent]]
        name = "bob"
        backend = "mine"

        [[agent]]
        name = "carol"
        backend = "spare"
        enabled = false
    """)
    result = agents("validate", "--config", str(path))
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f'{path}: backend.claude.bin: "claudee" not found on PATH (install it, or give bin a full path) (used by alice)',
        f'{path}: backend.mine.bin: "./tool.sh" is not executable ({tmp_path / "tool.sh"}) (used by bob)',
    ]
    up = agents("up", "--config", str(path))
    assert up.exit_code == 2 and "claudee" in up.output and "started" not in up.output
    assert TmuxRuntime(socket).observe() == {}  # refused before starting anything


def test_a_path_set_in_the_backend_env_is_where_the_binary_is_looked_up(tmp_path: Path, socket: str) -> None:
    from agent_orchestrator.config.environment import check_environment

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "mycli"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    path = write_config(tmp_path, socket, f"""
        [backend.mine]
        bin = "mycli"
        env = {{ PATH = "{bin_dir}" }}

        [[agent]]
        name = "alice"
        backend = "mine"
    """)
    assert check_environment(load_config(path)) == []


def test_read_only_verbs_warn_in_one_line_and_go_on(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, '[backend.claude]\nbin = "claudee"\n\n[[agent]]\nname = "alice"\nbackend = "claude"\n')
    result = agents("status", "--config", str(path))
    assert result.exit_code == 0
    assert [line for line in result.output.splitlines() if line.startswith("warning:")] == [
        f'warning: {path}: backend.claude.bin: "claudee" not found on PATH (install it, or give bin a full path) (used by alice); '
        "`agents validate` lists what `up` would refuse"]


def test_the_pane_launcher_names_a_missing_working_directory(tmp_path: Path) -> None:
    spec = tmp_path / "s.json"
    missing = tmp_path / "gone"
    spec.write_text(json.dumps({"argv": [sys.executable, "-c", "pass"], "cwd": str(missing), "env": {}}))
    done = subprocess.run([sys.executable, "-m", "agent_orchestrator.runtime.launcher", str(spec)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 126
    assert done.stderr == f"agent-orchestrator: cannot start {sys.executable!r}: working directory {missing} does not exist\n"
    assert json.loads((tmp_path / "s.json.exit").read_text())["status"] == 126


def test_the_pane_launcher_still_names_a_missing_binary(tmp_path: Path) -> None:
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({"argv": ["claudee"], "cwd": str(tmp_path), "env": {}}))
    done = subprocess.run([sys.executable, "-m", "agent_orchestrator.runtime.launcher", str(spec)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 127 and done.stderr == "agent-orchestrator: cannot start 'claudee': not found on PATH\n"


def test_a_started_agent_whose_folder_vanished_says_so_on_its_screen(tmp_path: Path, socket: str) -> None:
    """What the watchdog's heal meets when a folder goes away after `up` validated it."""
    from agent_orchestrator.runtime.project import Project
    from tests.support.tmux import screen_has, wait_until

    work = tmp_path / "work"
    work.mkdir()
    path = write_config(tmp_path, socket, textwrap.dedent("""
        [[agent]]
        name = "alice"
        dir = "work"
    """))
    proj = Project(load_config(path))
    work.rmdir()
    assert proj.start(proj.config.agents[0], None).action == "started"
    assert wait_until(screen_has(proj.runtime, "t-alice", "does not exist"))
    screen = "".join(proj.runtime.capture_history("t-alice", 50))  # the long line wraps at the pane's width
    assert f"working directory {work} does not exist" in screen and "not found on PATH" not in screen
