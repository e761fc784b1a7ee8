"""The executor: the only place where watchdog decisions touch the world (tmux, agents)."""

from __future__ import annotations

from collections.abc import Callable

from agent_orchestrator.runtime.delivery import deliver
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.runtime.tmux import TmuxError
from agent_orchestrator.tokens.ledger import Ledger
from agent_orchestrator.watchdog.events import EventLog
from agent_orchestrator.watchdog.events import iso
from agent_orchestrator.watchdog.model import Action, GateChange, Keys, Note, PhaseChange, Send, Start, Tick
from agent_orchestrator.watchdog.state import Pending, sequence_marker

RETRY_CAP = 300.0


class Executor:
    """Applies actions for one project, logging each as an event.

    Failures are events, never exceptions: a failed delivery is queued for a retry on a later
    tick (`Pending`), a failed start counts as a failed start of the restart policy.
    """

    def __init__(self, project: Project, events: EventLog, checkpoint: Callable[[], None] | None = None,
                 ledger: Ledger | None = None) -> None:
        self.project = project
        self.events = events
        self.checkpoint = checkpoint or (lambda: None)
        self.ledger = ledger

    def apply(self, tick: Tick, actions: list[Action]) -> None:
        """Carry out `actions` in order; a finished phase's tokens are closed last (see below)."""
        self.closing: list[str] = []
        for action in actions:
            try:
                self._apply_one(tick, action)
            except Exception as exc:  # one failing action must not cost the rest of the tick
                self.events.emit(getattr(action, "agent", ""), "action-error", f"{type(action).__name__}: {type(exc).__name__}: {exc}", tick.now)
        if self.ledger is not None:
            for phase_id in self.closing:
                # The loop agents were restarted above, so the old sessions' transcripts are
                # final and the new ones have written nothing yet: one more read charges the
                # finishing turn's last replies to the phase they belong to.
                self.ledger.poll(tick.now, phase_id, (self.ledger.gate or {}).get("gate"))
                self.ledger.close_phase(tick.now, phase_id)

    def _apply_one(self, tick: Tick, action: Action) -> None:
        if isinstance(action, Start):
            self._start(tick, action)
        elif isinstance(action, Send):
            self._send(tick, action)
        elif isinstance(action, Keys):
            self._keys(tick, action)
        elif isinstance(action, Note):
            self.events.emit(action.agent, action.action, action.reason, tick.now, **action.details)
        elif isinstance(action, PhaseChange):
            self._phase_change(tick, action)
        elif isinstance(action, GateChange):
            self.events.emit("", "gate", action.reason, tick.now, gate=action.label, previous=action.previous, phase=action.phase)
            if self.ledger is not None:
                self.ledger.close_gate(tick.now, action.phase, action.previous)

    def _phase_change(self, tick: Tick, action: PhaseChange) -> None:
        if action.ended_phase is not None and not action.complete:
            self.closing.append(action.ended_phase)
        marker = sequence_marker(self.project.log_dir)
        if action.complete:
            if not marker.exists():
                marker.write_text(f"{iso(tick.now)} {action.reason}\n", encoding="utf-8")
            self.events.emit("", "sequence-complete", action.reason, tick.now, phase=action.ended_phase)
        elif action.resumed is not None:
            marker.unlink(missing_ok=True)
            self.events.emit("", "phase-resumed", action.reason, tick.now, phase=action.resumed)
        else:
            self.events.emit("", "phase-advance", action.reason, tick.now, phase=action.ended_phase, index=action.index)
        # The new phase index must survive a crash before the loop agents restart with it.
        self.checkpoint()

    def _start(self, tick: Tick, action: Start) -> None:
        if action.action == "on-complete":
            self.checkpoint()  # "starting" + the old launcher pid are on disk before the start
        view = tick.views.get(action.agent)
        unit = self.project.config.agent(action.agent) or self.project.config.service(action.agent)
        if unit is None:
            return
        pane = view.pane if view else tick.services.get(action.agent)
        # The phase index as it is now: an advance earlier in this tick has already moved it.
        outcome = self.project.start(unit, pane, tick.state.phase.index, prompt=action.prompt, resume=action.resume)
        if outcome.failed:
            tick.agent_state(action.agent).failed_starts += 1
            self.events.emit(action.agent, f"{action.action}-failed", f"{action.reason}: {outcome.detail}", tick.now)
        else:
            if action.action == "on-complete":
                tick.state.phase.on_complete = "started"
            self.events.emit(action.agent, action.action, action.reason, tick.now, session=outcome.session)

    def _send(self, tick: Tick, action: Send) -> None:
        unit = self.project.config.agent(action.agent)
        if unit is None:
            return
        backend = self.project.config.backend_of(unit)
        result = deliver(self.project.runtime, unit.session or "", action.text, backend,
                         attempts=self.project.config.watchdog.delivery_attempts)
        st = tick.agent_state(action.agent)
        previous = next((p for p in st.pending if p.text == action.text and p.kind == action.kind), None)
        if result.ok:
            st.pending = [p for p in st.pending if p is not previous]
            self.events.emit(action.agent, action.kind, action.reason, tick.now, submits=result.attempts)
            return
        attempts = (previous.attempts if previous else 0) + 1
        delay = min(tick.config.watchdog.signal_interval * attempts, RETRY_CAP)
        if previous is None:
            st.pending.append(Pending(action.text, action.kind, action.reason, tick.now,
                                      attempts=attempts, next_try=tick.now + delay, last_error=result.reason))
        else:
            previous.attempts, previous.next_try, previous.last_error = attempts, tick.now + delay, result.reason
        self.events.emit(action.agent, "delivery-failed", f"{action.kind}: {result.reason}", tick.now,
                         attempt=attempts, retry_in=delay)

    def _keys(self, tick: Tick, action: Keys) -> None:
        unit = self.project.config.agent(action.agent)
        if unit is None:
            return
        try:
            self.project.runtime.send_key(unit.session or "", *action.keys)
        except TmuxError as exc:
            self.events.emit(action.agent, "keys-failed", f"{action.reason}: {exc}", tick.now)
            return
        self.events.emit(action.agent, "dialog-answered", action.reason, tick.now, keys=list(action.keys))
