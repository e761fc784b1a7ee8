"""Read-only views of the watchdog's state for `status` and other verbs (no lock needed)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_orchestrator.watchdog.events import iso
from agent_orchestrator.watchdog.state import state_path


@dataclass(frozen=True)
class Held:
    """A state the watchdog holds an agent in, with a human detail."""

    state: str
    detail: str


def _raw(log_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads(state_path(log_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def held_states(log_dir: Path) -> dict[str, Held]:
    """Agents the watchdog holds: needs-human (restart storm), limited (usage limit), paused."""
    out: dict[str, Held] = {}
    for name, st in (_raw(log_dir).get("agents") or {}).items():
        if not isinstance(st, dict):
            continue
        if st.get("needs_human"):
            out[name] = Held("needs-human", str(st["needs_human"]))
        elif isinstance(st.get("limit"), dict):
            until = st["limit"].get("until")
            out[name] = Held("limited", f"quiet until {iso(until)}" if isinstance(until, (int, float)) else "usage limit")
        elif st.get("paused"):
            out[name] = Held("paused", "paused by the operator")
    return out


def watchdog_info(log_dir: Path) -> dict[str, Any]:
    """`last_tick` (epoch), `pid` and `config_error` ("" when the config validates) of the last tick."""
    data = _raw(log_dir)
    extra = data.get("extra") or {}
    return {"last_tick": extra.get("last_tick"), "pid": extra.get("pid"), "config_error": data.get("config_error", "")}
