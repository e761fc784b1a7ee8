"""Shared fixtures: every test runs with its own HOME, so nothing touches a real ~/.claude*."""

from __future__ import annotations

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
    for var in ("TMUX", "TMUX_PANE", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "CODEX_HOME", "XDG_STATE_HOME"):
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
    """Path of the real Claude Code CLI at the selected pin of the tested matrix (current unless
    AO_CLI_PINS=previous / AO_CLAUDE_VERSION=…): PATH's at that version, else .cache/cli's, else
    installed by scripts/ensure-claude.sh. Skips, with the reason, only when node/npm are absent."""
    from tests.support.clis import pinned_cli

    return pinned_cli("claude")


@pytest.fixture(scope="session")
def codex() -> str:
    """Path of the real Codex CLI at the selected pin of the tested matrix (see `claude`)."""
    from tests.support.clis import pinned_cli

    return pinned_cli("codex")


@pytest.fixture
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A private sshd on 127.0.0.1 and a free port (tests/support/sshd.py): the host `b` of the
    multi-host tests. Skips, with the reason, only when sshd cannot run here. Stopped (every
    connection killed, so ssh master connections end too) after the test."""
    from tests.support.sshd import Sshd, unavailable

    why = unavailable()
    if why:
        pytest.skip(why)
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.stop()
