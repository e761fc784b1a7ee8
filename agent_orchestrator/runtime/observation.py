"""What tmux reports about one pane, as plain data (no libtmux here, so the pure core can use it)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


class TmuxError(RuntimeError):
    """A tmux command failed (the message holds tmux's own error text), or a session vanished."""


# Shells an agent CLI exits back to (pane_current_command); one list for the heal rule and the
# screen detectors.
SHELLS = frozenset({"bash", "sh", "zsh", "fish", "dash", "ksh", "tcsh", "csh"})


@dataclass(frozen=True)
class PaneObservation:
    """One session's (first) pane as tmux reports it.

    `window_activity` and `created` are epoch seconds (tmux's own clock record, so a restarted
    watchdog still sees how long a pane has been quiet). `dead_status` is the exit status of a
    dead pane (remain-on-exit keeps it), else None. `pid` is the pane's process (our spawn
    launcher execs into the agent, so it is the agent's pid). `owner` is the config path of the
    project that created the session (its `@ao_project` option; "" when untagged; runtime/owner.py).
    """

    session: str
    pane_id: str
    pid: int
    dead: bool
    dead_status: int | None
    current_command: str
    window_activity: float
    created: float
    width: int
    height: int
    owner: str = ""

    def exited_to_shell(self, process_names: Collection[str]) -> bool:
        """True when the pane is alive but runs a shell instead of one of `process_names`."""
        return not self.dead and self.current_command in SHELLS and self.current_command not in process_names
