"""The real agent CLIs for the tests that drive them, at the selected version of the tested matrix
(agent_orchestrator/data/cli-versions.toml: current unless AO_CLI_PINS=previous or
AO_<NAME>_VERSION=… say otherwise)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from agent_orchestrator.runtime.clis import find_cli

ROOT = Path(__file__).resolve().parents[2]


def pinned_cli(name: str) -> str:
    """Path of the real CLI `name` at its selected pin: the one `find_cli` finds (PATH's at that
    version, or the copy in .cache/cli), else the one scripts/ensure-<name>.sh installs. Skips,
    with the reason, only when it is not there and node/npm are absent to install it."""
    found = find_cli(name)
    if found:
        return found
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip(f"node/npm are not installed: the real {name} CLI cannot be installed here")
    done = subprocess.run(["bash", str(ROOT / "scripts" / f"ensure-{name}.sh")], capture_output=True, text=True,
                          check=False, timeout=900)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def fake_cli(path: Path, version_line: str, *, record_home: Path | None = None) -> Path:
    """An executable stand-in for an agent CLI whose `--version` prints `version_line` (and, with
    `record_home`, writes the HOME it ran with into that file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record = f'echo "$HOME" > "{record_home}"\n' if record_home else ""
    path.write_text(f"#!/bin/sh\n{record}echo '{version_line}'\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def fake_pinned_copy(cache: Path, folder: str, package: str, name: str, version: str) -> Path:
    """What `npm install --prefix <cache>/<folder> <package>@<version>` leaves for ensure-cli.sh and
    find_cli: the package's package.json and node_modules/.bin/<name> (printing the version)."""
    prefix = cache / folder / "node_modules"
    manifest = prefix / package / "package.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(f'{{"name": "{package}", "version": "{version}"}}\n', encoding="utf-8")
    return fake_cli(prefix / ".bin" / name, f"{version} (fake {name})")


def cli_at(name: str, version: str) -> str:
    """Path of the real CLI `name` at `version` (a pin of the tested matrix), whatever AO_CLI_PINS /
    AO_<NAME>_VERSION select: `find_cli` with AO_<NAME>_VERSION=version, else the copy
    scripts/ensure-cli.sh installs under .cache/cli. Skips when it is not there and node/npm are
    absent to install it."""
    found = find_cli(name, env={**os.environ, f"AO_{name.upper()}_VERSION": version})
    if found:
        return found
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip(f"node/npm are not installed: the real {name} {version} cannot be installed here")
    done = subprocess.run(["bash", str(ROOT / "scripts" / "ensure-cli.sh"), "--version", version, name],
                          capture_output=True, text=True, check=False, timeout=900)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]
