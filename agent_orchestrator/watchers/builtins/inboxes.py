"""Inboxes watcher: an inbox file changed on origin/main and not consumed, past the window.

The inboxes are `[loop.handoff].inboxes` (file → agent). The change is the newest commit on
origin/main that touched the file. It counts as **consumed** when

- the file as pushed is empty (or gone): its agent cleared it after reading, or
- its agent committed on origin/main at or after the change — a commit whose author name, or the
  local part of whose email, is the agent's name (rehearsal HOMEs give each agent that identity;
  give your agents one for this watcher to tell who committed).

Otherwise it is pending since the change's commit time.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent_orchestrator.watchers.decisions import Entity, FlagWatcher, WatcherContext, declare
from agent_orchestrator.watchers.sources import AuthoredCommit, handoff_repo, refresh

DECLARATION = declare("inboxes", "inbox-unconsumed", "flag-inbox")


def unconsumed(path: str, agent: str, change: AuthoredCommit | None, newest_first: Sequence[AuthoredCommit],
               text: str | None) -> Entity | None:
    """The inbox as a pending entity, or None when unchanged, empty or consumed (pure).
    `newest_first` is origin/main's history; commits above `change` came after it."""
    if change is None or text is None or not text.strip():
        return None
    if change.by(agent):
        return None
    for commit in newest_first:
        if commit.sha == change.sha:
            break
        if commit.by(agent):
            return None
    return Entity(id=f"inbox:{path}", state="unconsumed", changed_at=change.ts,
                  summary=f"inbox {path} of {agent} changed in {change.sha[:8]} and {agent} has not committed since",
                  inputs={"path": path, "agent": agent, "sha": change.sha, "author": change.author})


def make(ctx: WatcherContext) -> FlagWatcher:
    """The inboxes watcher of the project in `ctx`."""

    def drain(now: float) -> list[Entity]:
        loop = ctx.config.loop
        repo = handoff_repo(ctx.config)
        if loop is None or repo is None or not loop.handoff.inboxes:
            return []
        refresh(repo, ctx.log_dir)
        history = repo.history()
        out = []
        for path, agent in loop.handoff.inboxes.items():
            entity = unconsumed(path, agent, repo.last_change(path), history, repo.show(path))
            if entity is not None:
                out.append(entity)
        return out

    return DECLARATION.watcher(drain)
