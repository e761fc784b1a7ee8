"""The executor: the only place where watchdog decisions touch the world (tmux, agents)."""

from __future__ import annotations

from agent_orchestrator.delivery import deliver
from agent_orchestrator.project import Project
from agent_orchestrator.tmux import TmuxError
from agent_orchestrator.watchdog.events import EventLog
from agent_orchestrator.watchdog.model import Action, Keys, Note, Send, Start, Tick
from agent_orchestrator.watchdog.state import Pending

RETRY_CAP = 300.0


class Executor:
    """Applies actions for one project, logging each as an event.

    Failures are events, never exceptions: a failed delivery is queued for a retry on a later
    tick (`Pending`), a failed start counts as a failed start of the restart policy.
    """

    def __init__(self, project: Project, events: EventLog) -> None:
        self.project = project
        self.events = events

    def apply(self, tick: Tick, actions: list[Action]) -> None:
        """Carry out `actions` in order."""
        for action in actions:
            if isinstance(action, Start):
                self._start(tick, action)
            elif isinstance(action, Send):
                self._send(tick, action)
            elif isinstance(action, Keys):
                self._keys(tick, action)
            elif isinstance(action, Note):
                self.events.emit(action.agent, action.action, action.reason, tick.now, **action.details)

    def _start(self, tick: Tick, action: Start) -> None:
        view = tick.views.get(action.agent)
        unit = self.project.config.agent(action.agent) or self.project.config.service(action.agent)
        if unit is None:
            return
        pane = view.pane if view else tick.services.get(action.agent)
        outcome = self.project.start(unit, pane, tick.phase.index, prompt=action.prompt, resume=action.resume)
        if outcome.failed:
            tick.agent_state(action.agent).failed_starts += 1
            self.events.emit(action.agent, f"{action.action}-failed", f"{action.reason}: {outcome.detail}", tick.now)
        else:
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
