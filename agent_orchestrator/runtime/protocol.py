"""The runtime protocol: what the watchdog, delivery and `Project` need from a tmux server.

`TmuxRuntime` (runtime/tmux.py) is the real one; tests use an in-memory fake with the same
methods, so a whole watchdog tick runs without tmux. Session names are exact tmux session names;
errors are `TmuxError` (runtime/observation.py), never libtmux's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from agent_orchestrator.runtime.observation import PaneObservation


class Runtime(Protocol):
    """A tmux server holding agent sessions (one agent pane per session)."""

    socket: str | None
    calls: int

    def observe(self) -> dict[str, PaneObservation]:
        """Every session's agent pane by session name, from one bulk call; {} without a server."""
        ...

    def unreachable(self) -> dict[str, str]:
        """Machines (`[[host]]` names) the last `observe` could not reach, with the reason: their
        sessions are missing from it without being gone. {} for a single tmux server."""
        ...

    def capture(self, session: str, lines: int | None = None) -> list[str]:
        """The visible screen (bottom `lines` rows), trailing blank rows dropped. Raises TmuxError."""
        ...

    def capture_many(self, sessions: Iterable[str]) -> dict[str, list[str]]:
        """The visible screens of several sessions (each as `capture` gives it), by session, from
        one bulk call; a session that cannot be captured (it vanished) is left out."""
        ...

    def capture_history(self, session: str, lines: int) -> list[str]:
        """The last `lines` rows of scrollback + screen, blank runs folded. Raises TmuxError."""
        ...

    def has_session(self, session: str) -> bool:
        """True when a session of exactly this name exists."""
        ...

    def start(self, session: str, argv: list[str], *, cwd: Path, env: dict[str, str] | None = None,
              width: int = 200, height: int = 50, spec_dir: Path, owner: str | None = None,
              supervise: dict[str, float] | None = None) -> None:
        """Create `session` running `argv` through the pane launcher, tagged with `owner` (the
        project's config path, runtime/owner.py) when given; with `supervise` (a restart policy,
        `launcher._supervise`) the launcher runs `argv` again when it dies. Raises TmuxError."""
        ...

    def restart(self, session: str, argv: list[str], *, cwd: Path, env: dict[str, str] | None, spec_dir: Path,
                supervise: dict[str, float] | None = None) -> None:
        """Run `argv` afresh in an existing session's pane (dead or alive). Raises TmuxError."""
        ...

    def kill(self, session: str) -> bool:
        """Kill the session if it exists; True when one was killed."""
        ...

    def paste(self, session: str, text: str) -> None:
        """Bracketed-paste `text` into the pane without submitting it. Raises TmuxError."""
        ...

    def send_key(self, session: str, *keys: str) -> None:
        """Send tmux key names ("Enter", "Down", "C-c") to the pane. Raises TmuxError."""
        ...

    def base_argv(self) -> list[str]:
        """`tmux` plus the socket option, for handing a terminal over (`attach`)."""
        ...

    def agent_pid(self, session: str) -> int | None:
        """Pid of the agent process the launcher started in the session's current run, or None."""
        ...

    def exit_record(self, session: str) -> dict[str, Any] | None:
        """The launcher's record of the session's last run (`pid`, `started`, `ended`, `status` or
        `signal`; epoch seconds), or None while it runs or when there is none."""
        ...
