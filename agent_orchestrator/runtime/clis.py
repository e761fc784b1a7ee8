"""The tested version matrix of the agent CLIs (Claude Code, Codex) and where a pinned copy is.

The matrix is `data/cli-versions.toml`, the same file scripts/ensure-cli.sh reads: per CLI its
npm package, a `current` and a `previous` version. The selected version is `current` unless
`AO_<CLI>_VERSION` (a version, "current" or "previous") or `AO_CLI_PINS` ("current" or
"previous") say otherwise. A pinned copy lives in `<cache>/<package basename>@<version>/` (npm
`--prefix`), `<cache>` being `AO_CLI_CACHE` or `<repo>/.cache/cli`.

`find_cli` follows ensure-cli.sh without installing anything: the CLI on PATH when it reports the
selected version (any version with `AO_CLI_FROM_PATH=1`), else the pinned copy, else None.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MATRIX_FILE = Path(__file__).resolve().parents[1] / "data" / "cli-versions.toml"
REPO_ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ("current", "previous")

_VERSION = re.compile(r"\d+\.\d+\.\d+")


class MatrixError(ValueError):
    """The matrix file is unreadable, or a version selection names neither a column nor a version."""


@dataclass(frozen=True)
class CliPin:
    """One CLI of the matrix: its npm package and its two tested versions."""

    cli: str
    package: str
    current: str
    previous: str

    @property
    def versions(self) -> tuple[str, ...]:
        """The tested versions, current first."""
        return tuple(v for v in (self.current, self.previous) if v)

    def column(self, version: str | None) -> str | None:
        """"current" or "previous" for a tested version, else None."""
        if not version:
            return None
        return next((name for name in COLUMNS if getattr(self, name) == version), None)

    def folder(self, version: str) -> str:
        """The install folder's name: `<package basename>@<version>` (claude-code@2.1.332)."""
        return f"{self.package.rsplit('/', 1)[-1]}@{version}"


def load_matrix(path: Path = MATRIX_FILE) -> dict[str, CliPin]:
    """The matrix as {cli: CliPin}, in file order. Raises MatrixError naming the file and key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MatrixError(f"{path}: {exc}") from None
    matrix: dict[str, CliPin] = {}
    for cli, table in raw.items():
        if not isinstance(table, dict):
            raise MatrixError(f"{path}: {cli}: expected a table [{cli}]")
        values = {}
        for key in ("package", "current", "previous"):
            value = table.get(key, "")
            if not isinstance(value, str) or (key != "previous" and not value):
                raise MatrixError(f"{path}: {cli}.{key}: expected a non-empty string")
            values[key] = value
        unknown = sorted(set(table) - {"package", "current", "previous"})
        if unknown:
            raise MatrixError(f"{path}: {cli}.{unknown[0]}: unknown key")
        matrix[cli] = CliPin(cli, **values)
    return matrix


def selected_version(pin: CliPin, env: Mapping[str, str] | None = None) -> str:
    """The version of `pin` this run uses: AO_<CLI>_VERSION, else AO_CLI_PINS, else current.

    Either may be "current", "previous" or (the per-CLI one) a version string. Raises
    MatrixError for anything else.
    """
    env = os.environ if env is None else env
    per_cli = f"AO_{pin.cli.upper().replace('-', '_')}_VERSION"
    choice = env.get(per_cli) or env.get("AO_CLI_PINS") or "current"
    if choice in COLUMNS:
        version = str(getattr(pin, choice))
        if not version:
            raise MatrixError(f"{pin.cli} has no {choice} version in the matrix")
        return version
    if env.get(per_cli) and choice[:1].isdigit():
        return choice
    if env.get(per_cli):
        raise MatrixError(f"{per_cli}={choice!r}: expected current, previous or a version")
    raise MatrixError(f"AO_CLI_PINS={choice!r}: expected current or previous")


def cache_dir(env: Mapping[str, str] | None = None, repo_root: Path | None = None) -> Path:
    """Where pinned copies are installed: AO_CLI_CACHE, else <repo>/.cache/cli."""
    env = os.environ if env is None else env
    if env.get("AO_CLI_CACHE"):
        return Path(env["AO_CLI_CACHE"])
    return (repo_root or REPO_ROOT) / ".cache" / "cli"


def pinned_bin(pin: CliPin, version: str, cache: Path) -> Path:
    """The executable of `pin` at `version` inside `cache` (it may not exist)."""
    return cache / pin.folder(version) / "node_modules" / ".bin" / pin.cli


def parse_version(text: str) -> str | None:
    """The first x.y.z in a `--version` output.

    >>> parse_version("2.1.332 (Claude Code)"), parse_version("codex-cli 0.171.0"), parse_version("?")
    ('2.1.332', '0.171.0', None)
    """
    m = _VERSION.search(text)
    return m.group(0) if m else None


@dataclass(frozen=True)
class Probe:
    """What `<path> --version` said: the parsed `version` (None if none), the first line of its
    output, and an `error` when it could not run or failed."""

    version: str | None
    output: str = ""
    error: str = ""


def probe_version(path: str | Path, *, timeout: float = 60.0, env: Mapping[str, str] | None = None) -> Probe:
    """Run `path --version` in a throwaway HOME (Codex writes helper files under ~/.codex even
    for --version) with stdin closed; never raises."""
    base = dict(os.environ if env is None else env)
    for var in ("CODEX_HOME", "CLAUDE_CONFIG_DIR"):
        base.pop(var, None)
    with tempfile.TemporaryDirectory(prefix="ao-version-") as scratch:
        try:
            done = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL, env={**base, "HOME": scratch}, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            return Probe(None, error=str(exc) or type(exc).__name__)
    text = done.stdout.strip() or done.stderr.strip()
    first = text.splitlines()[0] if text else ""
    if done.returncode != 0:
        return Probe(parse_version(done.stdout), first, f"exit status {done.returncode}")
    return Probe(parse_version(done.stdout) or parse_version(done.stderr), first)


def find_cli(name: str, repo_root: Path | None = None, env: Mapping[str, str] | None = None,
             matrix: Mapping[str, CliPin] | None = None) -> str | None:
    """An agent CLI (`claude`, `codex`) at the selected matrix version, installing nothing.

    PATH's copy when it reports the selected version (or whatever it reports with
    AO_CLI_FROM_PATH=1), else the pinned copy in the cache folder when it is there, else None.
    A name the matrix does not know is looked up on PATH only.
    """
    env = os.environ if env is None else env
    pin = (load_matrix() if matrix is None else matrix).get(name)
    on_path = shutil.which(name, path=env.get("PATH"))
    if pin is None:
        return on_path
    version = selected_version(pin, env)
    if on_path and (env.get("AO_CLI_FROM_PATH", "0") not in ("", "0") or probe_version(on_path, env=env).version == version):
        return on_path
    cached = pinned_bin(pin, version, cache_dir(env, repo_root))
    return str(cached) if os.access(cached, os.X_OK) else None
