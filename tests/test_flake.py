"""flake.nix is a valid Nix expression with a default devShell (checked with Debian's nix parser)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FLAKE = Path(__file__).resolve().parent.parent / "flake.nix"


def test_flake_parses_and_has_the_dev_shell() -> None:
    parser = shutil.which("nix-instantiate")
    if parser is None:
        pytest.skip("nix-instantiate not installed (apt-get install nix-bin) — flake.nix not parsed")
    done = subprocess.run([parser, "--parse", str(FLAKE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = FLAKE.read_text()
    for needed in ("devShells.default", "python311", "typer", "rich", "libtmux", "tomli-w", "pkgs.tmux", "pkgs.git", "nodejs"):
        assert needed in text, needed
