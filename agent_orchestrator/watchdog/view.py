"""Read-only views of the watchdog's state for `status` and other verbs (no lock needed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_orchestrator.watchdog.events import iso
from agent_orchestrator.watchdog.state import load_state


@dataclass(frozen=True)
class Held:
    """A state the watchdog holds an agent in, with a human detail."""

    state: str
    detail: str


def held_states(log_dir: Path) -> dict[str, Held]:
    """Agents the watchdog holds: needs-human (restart storm), limited (usage limit), paused."""
    out: dict[str, Held] = {}
    for name, st in load_state(log_dir).agents.items():
        if st.needs_human:
            out[name] = Held("needs-human", st.needs_human)
        elif st.limit is not None:
            out[name] = Held("limited", f"quiet until {iso(st.limit.until)}")
        elif st.paused:
            out[name] = Held("paused", "paused by the operator")
    return out


def watchdog_info(log_dir: Path) -> dict[str, Any]:
    """`last_tick` (epoch), `pid` and `config_error` ("" when the config validates) of the last tick."""
    state = load_state(log_dir)
    return {"last_tick": state.last_tick, "pid": state.pid, "config_error": state.config_error}
