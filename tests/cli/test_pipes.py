"""Verbs whose reader goes away (`agents logs X | head -1`) end quietly, as Unix tools do.

Each verb runs as a real process whose stdout is a pipe: once with the read end already closed,
once with a reader that takes one line and closes (what `head -1` does). Neither may print a
traceback or Python's "Exception ignored … BrokenPipeError".
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.tmux import wait_until, write_config

ROOT = Path(__file__).resolve().parents[2]
AGENTS = [sys.executable, "-m", "agent_orchestrator"]
AGENT_LOG = [sys.executable, str(ROOT / "agent-log.py")]


def _closed_reader(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(argv, stdout=write, stderr=subprocess.PIPE, text=True, cwd=cwd, timeout=60, check=False)
    finally:
        os.close(write)


def _head_one(argv: list[str], cwd: Path) -> tuple[str, str, int]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read()
    return first, stderr, proc.wait(timeout=60)


def _quiet(stderr: str) -> bool:
    return "Traceback" not in stderr and "Exception ignored" not in stderr and "BrokenPipeError" not in stderr


@pytest.fixture
def team(tmp_path: Path, socket: str) -> Path:
    """The demo team up on a private socket, so `logs` and `status` have something to show."""
    path = write_config(tmp_path, socket, '[[agent]]\nname = "alice"\nprompt = "hi"\n')
    done = subprocess.run([*AGENTS, "--config", str(path), "up", "alice"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert wait_until(lambda: "demo>" in subprocess.run([*AGENTS, "--config", str(path), "logs", "alice"],
                                                      capture_output=True, text=True, check=False).stdout)
    return path


@pytest.mark.tmux
def test_verbs_end_quietly_when_the_reader_closes(team: Path) -> None:
    long_text = "\n".join(f"line {i}" for i in range(3000))
    (team.parent / "long.txt").write_text(long_text, encoding="utf-8")
    subprocess.run([*AGENTS, "--config", str(team), "send", "alice", "-f", "long.txt"], cwd=team.parent,
                   capture_output=True, check=False)
    verbs = [
        [*AGENTS, "--config", str(team), "logs", "alice", "-n", "2000"],
        [*AGENTS, "--config", str(team), "status"],
        [*AGENTS, "--config", str(team), "status", "--json"],
        [*AGENTS, "--config", str(team), "validate"],
        [*AGENTS, "selftest"],
        [*AGENTS, "--help"],
        [*AGENT_LOG, "--help"],
    ]

    def both(argv: list[str]) -> None:
        closed = _closed_reader(argv, team.parent)
        assert _quiet(closed.stderr), (argv, closed.stderr)
        first, stderr, _code = _head_one(argv, team.parent)
        assert first, argv  # the verb did write before its reader left
        assert _quiet(stderr), (argv, stderr)

    # The verbs are independent processes: run side by side (each one's start-up is most of it).
    with ThreadPoolExecutor(max_workers=4) as pool:
        for done in [pool.submit(both, argv) for argv in verbs]:
            done.result()  # re-raises a verb's failed assertion
