"""Fixtures of the issue-run tests: a git identity in the test's HOME, and `run_project`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.issue_runs import RunProject


@pytest.fixture(autouse=True)
def git_identity(own_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (own_home / ".gitconfig").write_text("[user]\n\tname = Test\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def run_project(tmp_path: Path) -> Callable[..., RunProject]:
    """`run_project(budget=1)`: a `RunProject` in the test's tmp_path."""
    return lambda budget=1: RunProject(tmp_path, budget)
