"""Rehearsals remove the folders Claude Code keeps in the system temp dir for their sandbox
(issue 12, item 12): `$TMPDIR/claude-<uid>/<cwd slug>/`, the slug being the working directory
with every character outside `[A-Za-z0-9]` replaced by `-` — so a sandbox named `…_8` is `…-8`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from agent_orchestrator.rehearsal import runner


def test_the_claude_temp_folders_of_a_sandbox_go_and_no_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    sandbox = tmp_path / "ao-rehearsal-euj4u3_8" / "builder-adversary"
    root = tmp_path / f"claude-{os.getuid()}"
    slug = str(sandbox).replace("/", "-").replace("_", "-").replace(".", "-")
    mine = [root / slug, root / (slug + "-work"), root / (slug + "-review")]
    other = root / str(tmp_path / "ao-rehearsal-other" / "x").replace("/", "-")
    for folder in (*mine, other):
        (folder / "tasks").mkdir(parents=True)
    runner._remove_cli_temp(sandbox)
    assert [f.exists() for f in mine] == [False, False, False]
    assert other.exists()
