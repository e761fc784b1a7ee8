"""Shared fixtures: every test runs with its own HOME, so nothing touches a real ~/.claude*."""

from __future__ import annotations

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
