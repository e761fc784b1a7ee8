"""Outstanding work re-announced: an agent restarted mid-gate is told what is still open for it.

A loop agent that the watchdog healed or rebooted starts fresh with its kickoff and does not
know about the claim it was pinged to review, or the FAIL it was pinged to fix (seen: the
adversary killed mid-review came back, the claim was never announced again, and the run hung).
So after such a start, a reviewer (`claim_pings`) gets the claims with no review after them and
the builder (`review_pings`) the reviews with no claim after them, from the handoff state's
latest claim and review per gate of the current phase. A phase advance starts a new phase with
nothing open, so it re-announces nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent_orchestrator.watchdog.model import Action, Send, Start, Step, Tick
from agent_orchestrator.watchdog.policies.handoff import open_work, ping_text

_AFTER = frozenset({"heal", "reboot", "restart"})


def reannounce(tick: Tick, decided: Sequence[Action]) -> Step:
    """Send actions re-announcing open work to agents (re)started this tick by heal or stall."""
    loop = tick.config.loop
    if loop is None or tick.state.phase.complete:
        return Step(tick.state)
    restarted = {a.agent for a in decided if isinstance(a, Start) and a.kind in _AFTER}
    if not restarted:
        return Step(tick.state)
    unreviewed, unanswered = open_work(tick.state.handoff.claims, tick.state.handoff.reviews)
    actions: list[Action] = []
    for agent in sorted(restarted):
        for items, targets, kind in ((unreviewed, loop.handoff.claim_pings, "claim"), (unanswered, loop.handoff.review_pings, "review")):
            if items and agent in targets:
                actions.append(Send(agent, ping_text(kind, items, again=True), "reannounce",
                                    f"restarted with {len(items)} open {kind}{'s' if len(items) != 1 else ''}", topic=kind, items=tuple(items)))
    return Step(tick.state, tuple(actions))
