"""Shared fixtures: every test runs with its own HOME, so nothing touches a real ~/.claude*."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_CAPTURES = ROOT.parent / "shared" / "captures"


@pytest.fixture(autouse=True)
def own_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Give the test a fresh, empty HOME and drop tmux/agent variables inherited from the caller."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var in ("TMUX", "TMUX_PANE", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "CODEX_HOME"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def socket() -> Iterator[str]:
    """A private tmux socket name; its server (and socket file) is removed after the test."""
    from tests.support.tmux import kill_server, private_socket

    name = private_socket()
    yield name
    kill_server(name)


@pytest.fixture(scope="session")
def claude() -> str:
    """Path of the real Claude Code CLI (on PATH, else the pinned one scripts/ensure-claude.sh
    installs). Skips, with the reason, only when node/npm are absent."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("node/npm are not installed: the real Claude Code CLI cannot be installed here")
    done = subprocess.run(["bash", str(ROOT / "scripts" / "ensure-claude.sh")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]
