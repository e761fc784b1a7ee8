"""The last good config: a copy of the `agents.toml` that last validated, so a typo in the file
never locks the user out of a running team.

The verbs that only look or stop (`status`, `logs`, `attach`, `down`, `phase show`, `tokens`,
`flags`) fall back to it, with one warning line naming the error; `up` and `validate` still refuse.

Where it lives: `<log_dir>/state/last-good.toml`, written atomically by whoever last loaded a valid
config — `up`, `validate`, the watchdog at its start and at every reload that validates. Its first
line is a TOML comment naming the config it copies (so a copy is never used for another file).

How it is found when the config does not validate: through a small per-user index,
`$XDG_STATE_HOME/agent-orchestrator/projects/<sha256 of the absolute config path>.json` (default
`~/.local/state/…`), holding `{"config": …, "log_dir": …}`; one file per project, replaced
atomically, so concurrent writers (the watchdog, a verb) never lose each other's entry. The index
is the primary way because a broken edit may break exactly what would say where `log_dir` is: the
TOML itself (an unclosed quote) or the `[defaults]` table. When there is no entry (another HOME,
the index wiped), `[defaults].log_dir` is read from the broken file with tomllib if it still parses.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent_orchestrator.config.schema import Config

HEADER = "# agent-orchestrator last-good: "
COPY_NAME = "last-good.toml"


@dataclass(frozen=True)
class LastGood:
    """A saved copy: its file, the config it copies (absolute), the log_dir and when (epoch s)."""

    copy: Path
    config: Path
    log_dir: Path
    saved_at: float


def copy_path(log_dir: Path) -> Path:
    """`<log_dir>/state/last-good.toml`."""
    return Path(log_dir) / "state" / COPY_NAME


def state_home() -> Path:
    """The per-user index folder: `$XDG_STATE_HOME/agent-orchestrator/projects` (default
    `~/.local/state/agent-orchestrator/projects`)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "agent-orchestrator" / "projects"


def index_path(config_path: Path) -> Path:
    """The index entry of the config at `config_path` (made absolute, symlinks resolved)."""
    key = hashlib.sha256(str(Path(config_path).resolve()).encode()).hexdigest()[:32]
    return state_home() / f"{key}.json"


def _write_atomic(path: Path, text: str) -> None:
    from agent_orchestrator.runtime.folders import PRIVATE, ensure_dir

    ensure_dir(path.parent, PRIVATE)  # <log_dir>/state and the per-user index: private whatever the umask
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(config: Config, now: float | None = None) -> Path | None:
    """Save `config` (validated; its `source` text) as its project's last good config and index it.

    Returns the copy's path; None when the config has no source text or nothing could be written
    (an OSError is swallowed: a read-only log_dir or HOME must not stop the caller). The copy is
    rewritten only when the text changed.
    """
    if not config.source:
        return None
    log_dir = Path(config.defaults.log_dir)
    path = copy_path(log_dir)
    header = HEADER + json.dumps({"config": str(config.path), "saved": time.time() if now is None else now}) + "\n"
    try:
        previous = _read_copy(path)
        if previous is None or previous[1] != config.source or previous[0].get("config") != str(config.path):
            from agent_orchestrator.runtime.folders import SHARED, ensure_dir

            ensure_dir(log_dir, SHARED)  # the first write of a project may come here: <log_dir> as `up` makes it
            _write_atomic(path, header + config.source)
        entry = json.dumps({"config": str(config.path), "log_dir": str(log_dir.resolve())})
        index = index_path(config.path)
        try:
            same = index.read_text(encoding="utf-8") == entry
        except OSError:
            same = False
        if not same:
            _write_atomic(index, entry)
    except OSError:
        return None
    return path


def _read_copy(path: Path) -> tuple[dict[str, Any], str] | None:
    """(header fields, the TOML after the header) of a saved copy, or None."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    first, _, rest = text.partition("\n")
    if not first.startswith(HEADER):
        return None
    try:
        meta = json.loads(first[len(HEADER):])
    except ValueError:
        return None
    return (meta, rest) if isinstance(meta, dict) else None


def _log_dir_candidates(config_path: Path) -> list[Path]:
    """Where the copy may be: the index entry's log_dir, then `[defaults].log_dir` of the file."""
    found: list[Path] = []
    try:
        entry = json.loads(index_path(config_path).read_text(encoding="utf-8"))
        if isinstance(entry, dict) and isinstance(entry.get("log_dir"), str):
            found.append(Path(entry["log_dir"]))
    except (OSError, ValueError):
        pass
    try:
        raw = tomllib.loads(Path(config_path).read_text(encoding="utf-8"))
        log_dir = raw.get("defaults", {}).get("log_dir")
        if isinstance(log_dir, str) and log_dir:
            p = Path(log_dir).expanduser()
            found.append(p if p.is_absolute() else Path(config_path).resolve().parent / p)
    except (OSError, ValueError, AttributeError, UnicodeDecodeError):
        pass
    return found


def find(config_path: Path) -> LastGood | None:
    """The last good copy of the config at `config_path`, or None when there is none (or only
    copies of another config)."""
    absolute = Path(config_path).resolve()
    for log_dir in _log_dir_candidates(config_path):
        path = copy_path(log_dir)
        copy = _read_copy(path)
        if copy is None or copy[0].get("config") != str(absolute):
            continue
        saved = copy[0].get("saved")
        return LastGood(path, absolute, log_dir, float(saved) if isinstance(saved, (int, float)) else path.stat().st_mtime)
    return None


def load(config_path: Path) -> tuple[Config, LastGood] | None:
    """The last good config of `config_path` loaded as if it were that file (relative paths
    against its folder), with where it came from; None when there is no copy.

    Raises ConfigError when the copy no longer validates (a file it names was removed since).
    """
    from agent_orchestrator.config.load import load_config

    found = find(config_path)
    if found is None:
        return None
    copy = _read_copy(found.copy)
    assert copy is not None
    return load_config(found.config, text=copy[1]), found
