"""Claims watcher: a `claim(<gate>)` on origin/main with no later `review(<gate>)` past the window.

Drain: the history of `[loop].repo`'s origin/main, newest first; for each gate label (any case)
the first claim or review met decides — a review first means the latest claim was reviewed, a
claim first is pending since its commit time. A re-claim (after a FAIL) is a new episode.
"""

from __future__ import annotations

from collections.abc import Iterable

from agent_orchestrator.handoff.markers import claim_label, review_verdict
from agent_orchestrator.watchers.decisions import Entity, FlagWatcher, WatcherContext, declare
from agent_orchestrator.watchers.sources import AuthoredCommit, handoff_repo, refresh

DECLARATION = declare("claims", "claim-unreviewed", "flag-claim")


def pending_claims(newest_first: Iterable[AuthoredCommit]) -> list[Entity]:
    """The claims no review followed (pure), one per gate."""
    decided: set[str] = set()
    out = []
    for c in newest_first:
        review = review_verdict(c.subject)
        if review is not None:
            decided.add(review[0].casefold())
            continue
        label = claim_label(c.subject)
        if label is None or label.casefold() in decided:
            continue
        decided.add(label.casefold())
        out.append(Entity(id=f"claim:{label.casefold()}", state="claimed", changed_at=c.ts,
                          summary=f"gate {label} claimed in {c.sha[:8]} has no review on origin/main",
                          inputs={"gate": label, "sha": c.sha, "subject": c.subject, "author": c.author}))
    return out


def make(ctx: WatcherContext) -> FlagWatcher:
    """The claims watcher of the project in `ctx` (no entities without a `[loop].repo`)."""

    def drain(now: float) -> list[Entity]:
        repo = handoff_repo(ctx.config)
        if repo is None:
            return []
        refresh(repo, ctx.log_dir)
        return pending_claims(repo.history())

    return DECLARATION.watcher(drain)
