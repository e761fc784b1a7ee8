"""Session ownership: a project only ever adopts, stops or types into sessions it created.

Two projects with the same `session_prefix` (or the same `session` names) on one tmux server would
otherwise take over each other's sessions: `up` would leave the other team's agent alone as if it
were its own, `down` would kill it, the watchdog would nudge and restart it. So every session a
project creates carries a tmux user option, `@ao_project=<absolute config path>`, set in the same
tmux invocation that creates it (`TmuxRuntime.start(owner=...)`), and read back in the one bulk
observation (`PaneObservation.owner`).

`OwnedRuntime` wraps a project's runtime (protocol `runtime.protocol.Runtime`): its `observe()`
leaves out sessions owned by another project (remembering them in `foreign`), so neither the
verbs nor the watchdog ever see them as theirs; every call that changes or types into a session
refuses one with another owner (`ForeignSession`, a `TmuxError`), and `start` tags what it
creates. A session without the option (created before tags existed) counts as the project's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent_orchestrator.runtime.observation import PaneObservation, TmuxError
from agent_orchestrator.runtime.protocol import Runtime

OWNER_OPTION = "@ao_project"


class ForeignSession(TmuxError):
    """A session that belongs to another project (`owner` is that project's config path)."""

    def __init__(self, session: str, owner: str) -> None:
        super().__init__(f"session {session} belongs to another project ({owner}); change session_prefix to run both")
        self.session = session
        self.owner = owner


class OwnedRuntime:
    """`inner` as seen by the project whose config is at `owner` (an absolute path string).

    Everything not listed here is passed through to `inner` (its socket, call counter, test hooks).
    """

    def __init__(self, inner: Runtime, owner: str) -> None:
        self.inner = inner
        self.owner = owner
        # session -> owner ("" = untagged) of every session the last observation saw
        self.owners: dict[str, str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def socket(self) -> str | None:
        """The inner runtime's tmux socket (None: the user's default server)."""
        return self.inner.socket

    @socket.setter
    def socket(self, value: str | None) -> None:
        self.inner.socket = value

    @property
    def calls(self) -> int:
        """tmux invocations of the inner runtime so far."""
        return self.inner.calls

    @calls.setter
    def calls(self, value: int) -> None:
        self.inner.calls = value

    # -- ownership ---------------------------------------------------------------------------
    @property
    def foreign(self) -> dict[str, str]:
        """Sessions of another project seen by the last observation: session -> owner."""
        return {s: o for s, o in self.owners.items() if o and o != self.owner}

    def owner_of(self, session: str) -> str | None:
        """The other project owning `session` (its config path), or None when the session is
        this project's, untagged or absent. Observes once when the session was not seen yet."""
        if session not in self.owners:
            self.observe()
        owner = self.owners.get(session, "")
        return owner if owner and owner != self.owner else None

    def check(self, session: str) -> None:
        """Raise ForeignSession when `session` belongs to another project."""
        owner = self.owner_of(session)
        if owner is not None:
            raise ForeignSession(session, owner)

    # -- the protocol ------------------------------------------------------------------------
    def observe(self) -> dict[str, PaneObservation]:
        """This project's (and untagged) sessions' panes; other projects' are left out and kept
        in `foreign`."""
        panes = self.inner.observe()
        self.owners = {name: getattr(pane, "owner", "") or "" for name, pane in panes.items()}
        return {name: pane for name, pane in panes.items() if not self.owners[name] or self.owners[name] == self.owner}

    def unreachable(self) -> dict[str, str]:
        """Machines the last observation could not reach (see `Runtime.unreachable`)."""
        return self.inner.unreachable()

    def capture(self, session: str, lines: int | None = None) -> list[str]:
        """The session's screen (see `Runtime.capture`). Raises ForeignSession or TmuxError."""
        self.check(session)
        return self.inner.capture(session, lines)

    def capture_many(self, sessions: Iterable[str]) -> dict[str, list[str]]:
        """Screens of several sessions in one call; other projects' sessions are left out."""
        mine = [s for s in sessions if s not in self.foreign]
        return self.inner.capture_many(mine) if mine else {}

    def capture_history(self, session: str, lines: int) -> list[str]:
        """The session's recent rows (see `Runtime.capture_history`). Raises ForeignSession or TmuxError."""
        self.check(session)
        return self.inner.capture_history(session, lines)

    def has_session(self, session: str) -> bool:
        """True when a session of exactly this name exists (whoever owns it)."""
        return self.inner.has_session(session)

    def start(self, session: str, argv: list[str], *, cwd: Path, env: dict[str, str] | None = None,
              width: int = 200, height: int = 50, spec_dir: Path, owner: str | None = None,
              supervise: dict[str, float] | None = None) -> None:
        """Create `session` tagged as this project's. Raises ForeignSession when another project
        has a session of that name, TmuxError when tmux fails."""
        self.check(session)
        self.inner.start(session, argv, cwd=cwd, env=env, width=width, height=height, spec_dir=spec_dir, owner=owner or self.owner,
                         supervise=supervise)
        self.owners[session] = owner or self.owner

    def restart(self, session: str, argv: list[str], *, cwd: Path, env: dict[str, str] | None, spec_dir: Path,
                supervise: dict[str, float] | None = None) -> None:
        """Run `argv` afresh in the session's pane. Raises ForeignSession or TmuxError."""
        self.check(session)
        self.inner.restart(session, argv, cwd=cwd, env=env, spec_dir=spec_dir, supervise=supervise)

    def kill(self, session: str) -> bool:
        """Kill the session if it is this project's; False when absent. Raises ForeignSession."""
        self.check(session)
        self.owners.pop(session, None)
        return self.inner.kill(session)

    def paste(self, session: str, text: str) -> None:
        """Bracketed-paste into the session's pane. Raises ForeignSession or TmuxError."""
        self.check(session)
        self.inner.paste(session, text)

    def send_key(self, session: str, *keys: str) -> None:
        """Send tmux key names to the session's pane. Raises ForeignSession or TmuxError."""
        self.check(session)
        self.inner.send_key(session, *keys)

    def base_argv(self) -> list[str]:
        """`tmux` plus the socket option (see `Runtime.base_argv`)."""
        return self.inner.base_argv()

    def agent_pid(self, session: str) -> int | None:
        """Pid of the agent in the session's current run (see `Runtime.agent_pid`)."""
        return self.inner.agent_pid(session)

    def exit_record(self, session: str) -> dict[str, Any] | None:
        """The launcher's record of the session's last run (see `Runtime.exit_record`)."""
        return self.inner.exit_record(session)


def owned(runtime: Runtime, owner: str) -> OwnedRuntime:
    """`runtime` seen by the project at `owner`; an OwnedRuntime is re-scoped, never wrapped twice."""
    if isinstance(runtime, OwnedRuntime):
        if runtime.owner == owner:
            return runtime
        runtime = runtime.inner
    return OwnedRuntime(runtime, owner)
