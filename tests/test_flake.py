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
    for needed in ("devShells.default", "python311", "typer", "rich", "libtmux", "tomli-w", "pkgs.tmux", "pkgs.git", "nodejs", "pkgs.openssh"):
        assert needed in text, needed


def test_the_flake_lists_every_runtime_dependency_of_pyproject() -> None:
    """A dependency added to pyproject.toml but not to the flake breaks `nix develop` users."""
    import re
    import tomllib

    project = tomllib.loads((FLAKE.parent / "pyproject.toml").read_text())["project"]
    text = FLAKE.read_text()
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].strip().lower()
        assert re.search(rf"^\s+{re.escape(name)}$", text, re.M), f"flake.nix: {name} (from pyproject.toml) is not in pythonEnv"
