"""Token records (signal tick): when the ledger closes a gate or a phase.

The ledger itself reads the transcripts (an observation), learns each claimed gate (the executor
hands it every `GateChange`) and appends records (an action); this policy only decides when a
bucket is final. Tokens are charged by their transcript record's own time (`tokens.ledger`), so
a record's span is given by times, not by the tick that closes it:

- a gate is recorded once the next gate's boundary is settled (`TokenView.ready`);
- a phase is closed when the machine advances (`PhaseChange`), ending where this tick's
  observation ended (`Tick.phase_end`: its witnesses showed the turns over by then): after the
  loop agents were restarted the ledger reads their old sessions' transcripts once more first,
  and it appends the phase's records `tokens.ledger.PHASE_SETTLE` seconds later (a record
  stamped before the end but written as an old session exits still counts); meanwhile the
  ledger shows no open phase, so no close is decided twice;
- the last phase ends at SEQUENCE-COMPLETE (the end of that tick's observation); it is closed once the loop agents are idle after it
  (they finish the turn that pushed the marker), or `LAST_PHASE_WAIT` seconds after it at the
  latest — tokens stamped after the completion belong to no phase, the completion itself waited
  for their turns (`phases.ADVANCE_GRACE`) and records written late are the settle's, so a
  longer wait (an agent seen busy by mistake) would only hold the row back; recorded
  `PHASE_SETTLE` seconds after the close, as above;
- a phase the ledger still holds open that is not the current one (moved by hand, or a crash
  between the advance and the record) is recorded now, ending where the current phase started.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent_orchestrator.watchdog.model import Action, CloseTokens, PhaseChange, Step, Tick

LAST_PHASE_WAIT = 60.0  # seconds after SEQUENCE-COMPLETE the last phase stays open at most


def tokens(tick: Tick, decided: Sequence[Action]) -> Step:
    """CloseTokens actions for this tick, given the actions the other policies `decided`."""
    loop = tick.config.loop
    ledger = tick.tokens
    if not tick.config.watchdog.log_tokens or ledger is None:
        return Step(tick.state)
    actions: list[Action] = []
    closing: set[str] = set()
    for action in decided:
        if isinstance(action, PhaseChange) and action.ended_phase is not None and not action.complete:
            closing.add(action.ended_phase)
            actions.append(CloseTokens(action.ended_phase, reread=True, reason=action.reason, at=tick.phase_end))
    open_phase = ledger.open_phase
    if open_phase is not None and open_phase not in closing:
        actions += [CloseTokens(open_phase, gate_only=True, reason=f"gate {label} ended: the next gate's boundary is settled")
                    for label in ledger.ready]
    ph = tick.state.phase
    if loop is None or not loop.phases or open_phase is None or open_phase in closing:
        return Step(tick.state, tuple(actions))
    current = loop.phases[min(ph.index, len(loop.phases) - 1)].id
    if ph.complete and open_phase == current:
        loop_busy = any(v.busy for v in tick.views.values() if v.agent.kind == "loop")
        completed = ph.completed_at if ph.completed_at is not None else tick.now
        if (not loop_busy and tick.now > completed) or tick.now - completed > LAST_PHASE_WAIT:
            actions.append(CloseTokens(open_phase, reason="sequence complete; loop agents done", at=completed, successor=False))
    elif open_phase != current and not any(isinstance(a, PhaseChange) for a in decided):
        actions.append(CloseTokens(open_phase, reason=f"phase {open_phase} is no longer current", at=ph.started))
    return Step(tick.state, tuple(actions))
