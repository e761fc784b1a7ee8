"""In-memory fakes of the watchdog's collaborators, for whole-tick tests with no tmux and no git.

`FakeRuntime` implements `runtime.protocol.Runtime`: sessions are `FakePane`s whose screen a test
scripts (`show`, `busy`, `idle`), whose agent a test kills (`die`, `exit_to_shell`), and whose
input line behaves like the demo backend's (`demo> `): a paste lands in it, the submit key sends
it (the text joins the pane's `submitted` and the session's `received`, the box empties).
A pane may also show `FakeDialog`s (`dialog`): option lists that Up/Down/Enter drive like a real
CLI's, optionally taking a few captures to show a key's effect (`FakePane.key_lag`).
`FakeGit` implements the observer's git reader over the pushed history of origin/main, force
pushes included. `Clock` is a settable epoch clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
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
class FakeDialog:
    """A CLI dialog drawn like Claude Code's or Codex's: `above` rows (the question), the
    `options` with the cursor glyph on `cursor`, the key hint below. Up/Down move the cursor
    (around the end when `wraps`, else they stop there), Enter chooses (`chosen`) and closes it;
    other keys do nothing."""

    above: list[str]
    options: list[str]
    cursor: int = 0
    numbered: bool = False
    glyph: str = "❯"
    indent: str = " "
    hint: str = "Enter to confirm · Esc to cancel"
    wraps: bool = True
    chosen: str | None = None

    def rows(self) -> list[str]:
        out = [*self.above, ""]
        for i, text in enumerate(self.options):
            label = f"{i + 1}. {text}" if self.numbered else text
            out.append(f"{self.indent}{self.glyph if i == self.cursor else ' '} {label}")
        return [*out, "", f"{self.indent}{self.hint}"]

    def press(self, key: str) -> bool:
        """Apply one key; True when it closed the dialog."""
        step = {"Up": -1, "Down": 1}.get(key)
        if step is not None:
            moved = self.cursor + step
            self.cursor = moved % len(self.options) if self.wraps else min(max(moved, 0), len(self.options) - 1)
        elif key == "Enter":
            self.chosen = self.options[self.cursor]
            return True
        return False


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
    queued: list[str] = field(default_factory=list)
    dialogs: list[FakeDialog] = field(default_factory=list)  # up in turn, the first one on screen
    key_lag: int = 0  # captures that still show the screen from before a dialog key
    lagging: list[tuple[str, int]] = field(default_factory=list)  # dialog keys not shown yet
    answered: list[FakeDialog] = field(default_factory=list)  # dialogs closed by Enter, in order


class FakeRuntime:
    """A tmux server in memory. `log` records every start, restart, paste, key and kill."""

    socket = "fake"

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.panes: dict[str, FakePane] = {}
        self.log: list[tuple[str, str, Any]] = []
        self.inboxes: dict[str, list[str]] = {}  # session -> every text submitted, across restarts
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

    def dialog(self, session: str, *dialogs: FakeDialog, key_lag: int = 0) -> None:
        """The CLI puts up `dialogs`, one after the other (the next shows once one is chosen)."""
        pane = self.panes[session]
        pane.dialogs, pane.key_lag = list(dialogs), key_lag
        self._touch(pane)

    def _dialog_keys(self, pane: FakePane, settle: bool) -> None:
        """Apply the dialog keys whose lag is over (all of them when `settle` is False: no lag)."""
        keep: list[tuple[str, int]] = []
        for key, left in pane.lagging:
            if settle and left > 0:
                keep.append((key, left - 1))
            elif pane.dialogs and pane.dialogs[0].press(key):
                pane.answered.append(pane.dialogs.pop(0))
                self._touch(pane)
            elif pane.dialogs:
                self._touch(pane)
        pane.lagging = keep

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

    def received(self, session: str) -> list[str]:
        """Every message submitted to the session's agents, oldest first, across restarts (what
        the real fake agent's inbox file records)."""
        return list(self.inboxes.get(session, []))

    def pid(self, session: str) -> int | None:
        """The pid of the session's current agent process (a restart gives a new one)."""
        pane = self.panes.get(session)
        return pane.pid if pane is not None else None

    # -- the protocol ----------------------------------------------------------------------
    def observe(self) -> dict[str, PaneObservation]:
        self.calls += 1
        return {
            name: PaneObservation(name, f"%{p.pid}", p.pid, p.dead, p.dead_status if p.dead else None, p.command,
                                  p.activity, p.started, 200, 50)
            for name, p in self.panes.items()
        }

    def unreachable(self) -> dict[str, str]:
        return {}

    def _pane(self, session: str) -> FakePane:
        if session not in self.panes:
            raise TmuxError(f"can't find session: {session}")
        return self.panes[session]

    def capture(self, session: str, lines: int | None = None) -> list[str]:
        self.calls += 1
        pane = self._pane(session)
        if pane.lagging:
            self._dialog_keys(pane, settle=True)
        if pane.dialogs:
            return pane.dialogs[0].rows()
        out = [*pane.screen, f"demo> {pane.input}"]
        return out[-lines:] if lines else out

    def capture_many(self, sessions: Iterable[str]) -> dict[str, list[str]]:
        """`capture` of each session that exists, counted as one call (the real one is one tmux
        invocation)."""
        calls = self.calls
        screens = {s: self.capture(s) for s in dict.fromkeys(sessions) if s in self.panes}
        self.calls = calls + 1
        return screens

    def capture_history(self, session: str, lines: int) -> list[str]:
        return self.capture(session, lines)

    def has_session(self, session: str) -> bool:
        return session in self.panes

    def _run(self, session: str, argv: list[str], env: dict[str, str] | None) -> FakePane:
        self._pid += 1
        now = self.clock()
        return FakePane(session, self._pid, now, list(argv), dict(env or {}), float(int(now)), ["demo: ready"])

    def start(self, session: str, argv: list[str], *, cwd: Path, env: dict[str, str] | None = None,
              width: int = 200, height: int = 50, spec_dir: Path, owner: str | None = None,
              supervise: dict[str, float] | None = None) -> None:
        self.calls += 1
        if session in self.panes:
            raise TmuxError(f"session {session!r} exists already")
        self.panes[session] = self._run(session, argv, env)
        self.log.append(("start", session, list(argv)))

    def restart(self, session: str, argv: list[str], *, cwd: Path, env: dict[str, str] | None, spec_dir: Path,
                supervise: dict[str, float] | None = None) -> None:
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
        if pane.dialogs:
            pane.lagging += [(key, pane.key_lag) for key in keys]
            if not pane.key_lag:
                self._dialog_keys(pane, settle=False)
            return
        if "Enter" in keys and pane.input and not pane.ignore_submit:
            pane.submitted.append(getattr(pane, "pasted", pane.input))
            self.inboxes.setdefault(session, []).append(pane.submitted[-1])
            pane.screen = [*pane.screen, f"> {pane.input}"]
            pane.input = ""
            self._touch(pane)
        elif "Tab" in keys and pane.input and not pane.ignore_submit:
            # a CLI's own queue (Codex's Tab): the text leaves the box and waits for the turn
            pane.queued.append(getattr(pane, "pasted", pane.input))
            pane.input = ""
            self._touch(pane)

    def base_argv(self) -> list[str]:
        return ["tmux", "-L", self.socket]

    def agent_pid(self, session: str) -> int | None:
        pane = self.panes.get(session)
        return pane.pid if pane is not None else None

    def exit_record(self, session: str) -> dict[str, Any] | None:
        pane = self.panes.get(session)
        if pane is None or pane.ended is None:
            return None
        return {"pid": pane.pid, "started": pane.started, "ended": pane.ended, "status": pane.dead_status or 0}


class FakeGit:
    """origin/main of a handoff repo: pushed commits (each with its parent and file tree).

    `push(subject, files=…)` adds a commit at the clock's time; `rewrite(base, …)` force-pushes
    (origin/main reset to `base`, then new commits on top); `fail` makes fetches fail with that
    message (pushes still land: origin moved while it could not be reached). `commits_between`
    answers like `GitRepo`'s: a rewritten history is `(fresh, True)`, `fresh` being the commits
    after the common ancestor whose subjects the old history did not have.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.commits: list[Commit] = []  # origin/main, oldest first
        self.parents: dict[str, str | None] = {}  # every commit ever pushed -> its parent
        self.by_sha: dict[str, Commit] = {}
        self.files: dict[str, dict[str, str]] = {}  # sha -> {path: text}
        self.fail = ""
        self.fetches = 0

    @property
    def head(self) -> str | None:
        return self.commits[-1].sha if self.commits else None

    def push(self, subject: str, files: dict[str, str] | None = None, ts: float | None = None) -> str:
        """Push one commit whose tree is the previous one with `files` changed; returns its sha."""
        sha = hashlib.sha1(f"{len(self.by_sha)}:{subject}".encode()).hexdigest()
        tree = {**(self.files.get(self.head or "", {})), **(files or {})}
        commit = Commit(sha, subject, self.clock() if ts is None else ts)
        self.files[sha] = tree
        self.parents[sha] = self.head
        self.by_sha[sha] = commit
        self.commits.append(commit)
        return sha

    def rewrite(self, base: str | None, *commits: str | tuple[str, dict[str, str]]) -> list[str]:
        """Force-push: origin/main becomes `base` (None: empty) plus `commits` (subjects, or
        (subject, files)) on top; returns their shas. The old commits stay known, as in git's
        object store."""
        self.commits = self._chain(base)
        return [self.push(*((c, None) if isinstance(c, str) else c)) for c in commits]

    def _chain(self, sha: str | None) -> list[Commit]:
        """The history ending at `sha`, oldest first."""
        out: list[Commit] = []
        while sha is not None:
            out.append(self.by_sha[sha])
            sha = self.parents[sha]
        return out[::-1]

    def fetch(self) -> FetchResult:
        self.fetches += 1
        if self.fail:
            return FetchResult(False, None, self.fail)
        return FetchResult(True, self.head)

    def commits_between(self, old: str | None, new: str) -> tuple[list[Commit], bool]:
        if old is None or old == new:
            return [], False
        if old not in self.by_sha:
            return [], True  # vanished from the object store
        after = self._chain(new)
        shas = [c.sha for c in after]
        if old in shas:
            return after[shas.index(old) + 1:], False
        before = self._chain(old)
        common = [c.sha for c in before if c.sha in shas]
        if not common:
            return [], True  # no common ancestor
        dropped = {c.subject for c in before[len(common):]}
        return [c for c in after[shas.index(common[-1]) + 1:] if c.subject not in dropped], True

    def log(self, rev: str | None = None, limit: int = 200) -> list[Commit]:
        return list(reversed(self._chain(rev or self.head)))[:limit]

    def blob_ids(self, rel_paths: list[str], rev: str | None = None) -> dict[str, str | None]:
        tree = self.files.get(rev or self.head or "", {})
        return {p: (hashlib.sha1(tree[p].encode()).hexdigest() if p in tree else None) for p in rel_paths}

    def show(self, rel_path: str, rev: str | None = None) -> str | None:
        return self.files.get(rev or self.head or "", {}).get(rel_path)
