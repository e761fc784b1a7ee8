"""What the built-in watchers read: the handoff repo as pushed, the watchdog's state and events.

All read-only. The handoff repo is read from the watchdog's own bare mirror of the clone's origin
(never the agents' clone), which the watchdog fetches every signal tick; a watcher fetches the
mirror itself only when no watchdog holds the project's lock — either way it reads `origin/main`
as last fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent_orchestrator.config.schema import Config
from agent_orchestrator.handoff.gitrepo import GitError, GitRepo
from agent_orchestrator.handoff.mirror import ensure_mirror
from agent_orchestrator.transcripts.tail import tail
from agent_orchestrator.watchdog.lock import lock_holder
from agent_orchestrator.watchdog.state import WatchdogState, load_state

# One record per commit: sha, committer epoch, author name, author email, subject (last, so a
# separator inside it survives the split); -z ends each record with NUL.
_FORMAT = "--format=%H%x1f%ct%x1f%an%x1f%ae%x1f%s"
HISTORY_LIMIT = 200


@dataclass(frozen=True)
class AuthoredCommit:
    """A commit with its author: `ts` is the committer time (epoch seconds)."""

    sha: str
    ts: float
    author: str
    email: str
    subject: str

    def by(self, agent: str) -> bool:
        """True when the author name, or the local part of the email, is `agent` (any case)."""
        who = agent.casefold()
        return self.author.casefold() == who or self.email.split("@", 1)[0].casefold() == who


class WatchRepo(GitRepo):
    """`GitRepo` plus the two reads watchers need: history with authors, the last change of a path."""

    def history(self, limit: int = HISTORY_LIMIT, paths: list[str] | None = None) -> list[AuthoredCommit]:
        """Up to `limit` commits of the tracking ref (newest first), only those touching `paths`
        when given; empty when nothing is pushed yet. One process."""
        args = ["log", "-z", _FORMAT, "--no-show-signature", f"--max-count={int(limit)}", "--ignore-missing",
                "--end-of-options", self.tracking_ref, "--", *(paths or [])]
        out = self._run(args).stdout
        commits = []
        for record in out.split(b"\x00"):
            parts = record.decode("utf-8", errors="replace").split("\x1f", 4)
            if len(parts) == 5 and parts[1].isdigit():
                commits.append(AuthoredCommit(parts[0].strip(), float(parts[1]), parts[2], parts[3], parts[4]))
        return commits

    def last_change(self, path: str) -> AuthoredCommit | None:
        """The newest commit on the tracking ref that changed `path`, or None."""
        found = self.history(1, [path])
        return found[0] if found else None


def handoff_repo(config: Config) -> WatchRepo | None:
    """The handoff repo as the watchdog mirrors it (`handoff/mirror.py`; created on first use),
    or None without a `[loop].repo`. Raises GitError when the clone has no origin."""
    loop = config.loop
    if loop is None or loop.repo is None:
        return None
    path = ensure_mirror(Path(loop.repo), Path(config.defaults.log_dir), loop.handoff.fetch_timeout)
    return WatchRepo(path, timeout=loop.handoff.fetch_timeout)


def refresh(repo: GitRepo, log_dir: Path) -> None:
    """Fetch the mirror unless a watchdog runs (it fetches every signal tick; two fetches in one
    repository would fight over the tracking ref's lock file).

    Raises GitError when our own fetch fails: a watcher must not flag from a view it could not
    refresh (the tick is logged and retried).
    """
    if lock_holder(Path(log_dir)) is not None:
        return
    result = repo.fetch()
    if not result.ok:
        raise GitError(result.error)


def watchdog_state(log_dir: Path) -> WatchdogState:
    """The watchdog's state as last saved (a fresh one when absent or unusable); never writes."""
    return load_state(Path(log_dir))


class EventFold:
    """Folds `<log_dir>/events.jsonl` incrementally into the last pause time of each agent.

    `paused_at[name]` is the time of the latest `pause` event not followed by a `resume`.
    """

    def __init__(self, log_dir: Path) -> None:
        self.path = Path(log_dir) / "events.jsonl"
        self.offset = 0
        self.paused_at: dict[str, float] = {}

    def update(self) -> None:
        events, self.offset, reset = tail(self.path, self.offset)
        if reset:
            self.paused_at = {}  # the log was truncated or replaced
        for event in events:
            name, action = str(event.get("agent") or ""), event.get("action")
            if action == "pause" and isinstance(event.get("ts"), (int, float)):
                self.paused_at[name] = float(event["ts"])
            elif action == "resume":
                self.paused_at.pop(name, None)
