"""In-memory fakes of the watchdog's collaborators, for whole-tick tests with no tmux and no git.

`FakeRuntime` implements `runtime.protocol.Runtime`: sessions are `FakePane`s whose screen a test
scripts (`show`, `busy`, `idle`), whose agent a test kills (`die`, `exit_to_shell`), and whose
input line behaves like the demo backend's (`demo> `): a paste lands in it, the submit key sends
it (the text joins `submitted`, the box empties). `FakeGit` implements the observer's git reader
over a list of pushed commits. `Clock` is a settable epoch clock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_orchestrator.handoff.gitrepo import Commit, FetchResult
from agent_orchestrator.runtime.observation import PaneObservation, TmuxError

NOW = 1_800_000_000.0


class Clock:
    """Epoch seconds that move only when the test says so."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@dataclass
class FakePane:
    """One session's agent pane."""

    session: str
    pid: int
    started: float
    argv: list[str]
    env: dict[str, str]
    activity: float
    screen: list[str] = field(default_factory=list)
    input: str = ""
    submitted: list[str] = field(default_factory=list)
    dead: bool = False
    dead_status: int | None = None
    command: str = "python3"
    ended: float | None = None
    ignore_submit: bool = False


class FakeRuntime:
    """A tmux server in memory. `log` records every start, restart, paste, key and kill."""

    socket = "fake"

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.panes: dict[str, FakePane] = {}
        self.log: list[tuple[str, str, Any]] = []
        self.calls = 0
        self._pid = 1000

    # -- scripting -----------------------------------------------------------------------
    def _touch(self, pane: FakePane) -> None:
        pane.activity = float(int(self.clock()))

    def show(self, session: str, *lines: str) -> None:
        """The agent prints `lines` (they replace the screen above the input line)."""
        pane = self.panes[session]
        pane.screen = list(lines)
        self._touch(pane)

    def busy(self, session: str) -> None:
        """The agent works on a turn (the demo backend's active marker)."""
        self.show(session, "demo: working")

    def idle(self, session: str, *reply: str) -> None:
        """The agent finished its turn with `reply`."""
        self.show(session, *reply)

    def die(self, session: str, status: int = 1) -> None:
        """The agent process exits with `status`; the pane stays (remain-on-exit)."""
        pane = self.panes[session]
        pane.dead, pane.dead_status, pane.ended = True, status, self.clock()
        self._touch(pane)

    def exit_to_shell(self, session: str) -> None:
        """The agent is gone and the pane shows a shell."""
        pane = self.panes[session]
        pane.command, pane.ended = "bash", self.clock()
        self._touch(pane)

    def starts(self, session: str | None = None) -> list[tuple[str, str, Any]]:
        """Recorded starts and restarts (of `session`, or all)."""
        return [e for e in self.log if e[0] in ("start", "restart") and (session is None or e[1] == session)]

    # -- the protocol ----------------------------------------------------------------------
    def observe(self) -> dict[str, PaneObservation]:
        self.calls += 1
        return {
            name: PaneObservation(name, f"%{p.pid}", p.pid, p.dead, p.dead_status if p.dead else None, p.command,
                                  p.activity, p.started, 200, 50)
            for name, p in self.panes.items()
        }

    def _pane(self, session: str) -> FakePane:
        if session not in self.panes:
            raise TmuxError(f"can't find session: {session}")
        return self.panes[session]

    def capture(self, session: str, lines: int | None = None) -> list[str]:
        self.calls += 1
        pane = self._pane(session)
        out = [*pane.screen, f"demo> {pane.input}"]
        return out[-lines:] if lines else out

    def capture_history(self, session: str, lines: int) -> list[str]:
        return self.capture(session, lines)

    def has_session(self, session: str) -> bool:
        return session in self.panes

    def _run(self, session: str, argv: list[str], env: dict[str, str] | None) -> FakePane:
        self._pid += 1
        now = self.clock()
        return FakePane(session, self._pid, now, list(argv), dict(env or {}), float(int(now)), ["demo: ready"])

    def start(self, session: str, argv: list[str], *, cwd: Path, env: dict[str, str] | None = None,
              width: int = 200, height: int = 50, spec_dir: Path) -> None:
        self.calls += 1
        if session in self.panes:
            raise TmuxError(f"session {session!r} exists already")
        self.panes[session] = self._run(session, argv, env)
        self.log.append(("start", session, list(argv)))

    def restart(self, session: str, argv: list[str], *, cwd: Path, env: dict[str, str] | None, spec_dir: Path) -> None:
        self.calls += 1
        self._pane(session)
        self.panes[session] = self._run(session, argv, env)
        self.log.append(("restart", session, list(argv)))

    def kill(self, session: str) -> bool:
        self.calls += 1
        self.log.append(("kill", session, None))
        return self.panes.pop(session, None) is not None

    def paste(self, session: str, text: str) -> None:
        self.calls += 1
        pane = self._pane(session)
        pane.input += text.splitlines()[0] if text.strip() else text
        pane.pasted = text  # type: ignore[attr-defined]
        self.log.append(("paste", session, text))

    def send_key(self, session: str, *keys: str) -> None:
        self.calls += 1
        pane = self._pane(session)
        self.log.append(("keys", session, keys))
        if "Enter" in keys and pane.input and not pane.ignore_submit:
            pane.submitted.append(getattr(pane, "pasted", pane.input))
            pane.screen = [*pane.screen, f"> {pane.input}"]
            pane.input = ""
            self._touch(pane)

    def agent_pid(self, session: str) -> int | None:
        pane = self.panes.get(session)
        return pane.pid if pane is not None else None

    def exit_record(self, session: str) -> dict[str, Any] | None:
        pane = self.panes.get(session)
        if pane is None or pane.ended is None:
            return None
        return {"pid": pane.pid, "started": pane.started, "ended": pane.ended, "status": pane.dead_status or 0}


class FakeGit:
    """origin/main of a handoff repo as a list of pushed commits and file contents.

    `push(subject, files=…)` adds a commit at the clock's time; `fail` makes fetches fail.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.commits: list[Commit] = []
        self.files: dict[str, dict[str, str]] = {}  # sha -> {path: text}
        self.fail = ""
        self.fetches = 0

    @property
    def head(self) -> str | None:
        return self.commits[-1].sha if self.commits else None

    def push(self, subject: str, files: dict[str, str] | None = None, ts: float | None = None) -> str:
        """Push one commit whose tree is the previous one with `files` changed; returns its sha."""
        sha = hashlib.sha1(f"{len(self.commits)}:{subject}".encode()).hexdigest()
        tree = {**(self.files.get(self.head or "", {})), **(files or {})}
        self.files[sha] = tree
        self.commits.append(Commit(sha, subject, self.clock() if ts is None else ts))
        return sha

    def fetch(self) -> FetchResult:
        self.fetches += 1
        if self.fail:
            return FetchResult(False, None, self.fail)
        return FetchResult(True, self.head)

    def commits_between(self, old: str | None, new: str) -> tuple[list[Commit], bool]:
        shas = [c.sha for c in self.commits]
        if old is not None and old not in shas:
            return [], True
        start = shas.index(old) + 1 if old is not None else 0
        return self.commits[start:shas.index(new) + 1], False

    def log(self, rev: str | None = None, limit: int = 200) -> list[Commit]:
        return list(reversed(self.commits))[:limit]

    def blob_ids(self, rel_paths: list[str], rev: str | None = None) -> dict[str, str | None]:
        tree = self.files.get(rev or self.head or "", {})
        return {p: (hashlib.sha1(tree[p].encode()).hexdigest() if p in tree else None) for p in rel_paths}

    def show(self, rel_path: str, rev: str | None = None) -> str | None:
        return self.files.get(rev or self.head or "", {}).get(rel_path)
