"""The executor: the only place where watchdog decisions touch the world (tmux, agents, files).

It carries out a tick's actions in order, logs each as an event and reports an `Outcome` per
action; it never writes the watchdog's state (`watchdog.settle` folds the outcomes in).
Failures are outcomes and events, never exceptions: one failing action does not cost the rest
of the tick.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

from agent_orchestrator.agents import hooks
from agent_orchestrator.runtime.delivery import HookConfirmation, deliver
from agent_orchestrator.runtime.observation import TmuxError
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.tokens.claims import Claim
from agent_orchestrator.tokens.ledger import PHASE_SETTLE
from agent_orchestrator.watchdog.events import EventLog, iso
from agent_orchestrator.watchdog.model import (
    Action,
    CloseTokens,
    Deliver,
    GateChange,
    Keys,
    Note,
    Observation,
    Outcome,
    PhaseChange,
    Send,
    Start,
)
from agent_orchestrator.watchdog.policies.handoff import commit_ids
from agent_orchestrator.watchdog.rebuild import ON_COMPLETE_PID
from agent_orchestrator.watchdog.state import WatchdogState, sequence_marker


def launch_pid(observation: Observation, name: str) -> int | None:
    """The launcher's pid of agent `name` as `observation` saw it (None: not running / unknown)."""
    seen = observation.agents.get(name)
    return seen.launch_pid if seen is not None else None


class TokenRecorder(Protocol):
    """The token ledger as the executor writes it (`tokens.ledger.Ledger` is the real one)."""

    def poll(self, now: float, phase_id: str | None, gate: str | None, since: float | None = None) -> object: ...
    def open_ids(self) -> tuple[str | None, str | None]: ...
    def open_gate(self, now: float, phase_id: str, label: str, claim: Claim | None = None) -> None: ...
    def close_gate(self, now: float, phase_id: str | None, label: str | None) -> object: ...
    def close_phase(self, now: float, phase_id: str, at: float | None = None, *, successor: bool = True,
                    with_last_read: bool = False, settle: float = 0.0) -> object: ...


class Executor:
    """Applies actions for one project. `sleep` (seconds) paces deliveries and startup waits."""

    def __init__(self, project: Project, events: EventLog, *, ledger: TokenRecorder | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.project = project
        self.events = events
        self.ledger = ledger
        self.sleep = sleep

    def apply(self, state: WatchdogState, actions: Sequence[Action], observation: Observation) -> list[Outcome]:
        """Carry out `actions` in order against the world `observation` saw; `state` is the
        decided state (the phase a start launches into). Returns one outcome per action."""
        outcomes = []
        now = observation.now
        for action in actions:
            try:
                outcomes.append(self._apply_one(state, action, observation))
            except Exception as exc:  # noqa: BLE001 - one failing action must not cost the rest of the tick
                detail = f"{type(action).__name__}: {type(exc).__name__}: {exc}"
                self.events.emit(getattr(action, "agent", ""), "action-error", detail, now)
                outcomes.append(Outcome(action, False, detail))
        return outcomes

    def _apply_one(self, state: WatchdogState, action: Action, observation: Observation) -> Outcome:
        now = observation.now
        if isinstance(action, Start):
            return self._start(state, action, observation)
        if isinstance(action, Deliver):
            return self._deliver(state, action, now)
        if isinstance(action, Send):
            return Outcome(action, False, "a message is delivered through its agent's outbox (decide queues every Send)")
        if isinstance(action, Keys):
            return self._keys(action, now)
        if isinstance(action, Note):
            self.events.emit(action.agent, action.event, action.reason, now, **action.details)
            return Outcome(action, True)
        if isinstance(action, PhaseChange):
            return self._phase_change(action, observation)
        if isinstance(action, GateChange):
            self.events.emit("", "gate", action.reason, now, gate=action.label, previous=action.previous, phase=action.phase)
            if self.ledger is not None and action.phase is not None:
                # The ledger dates the gate's start from its claim commit (tokens.claims).
                claim = Claim(action.label, action.sha, action.subject, action.committed) if action.sha else None
                self.ledger.open_gate(now, action.phase, action.label, claim)
            return Outcome(action, True)
        return self._close_tokens(action, now)

    def _phase_change(self, action: PhaseChange, observation: Observation) -> Outcome:
        """The marker and the event of a phase change. Each carries the launcher pids, as observed
        before this tick's starts, of the agents the change restarts (`pids`: the loop agents, or
        the on_complete task): a watchdog that lost its state rebuilds the starts still owed from
        them (`watchdog.rebuild`), and confirms instead of repeating those that went out."""
        now = observation.now
        config = self.project.config
        marker = sequence_marker(self.project.log_dir)
        if action.complete:
            task = config.loop.on_complete.run if config.loop is not None and config.loop.on_complete is not None else None
            pids = {task: launch_pid(observation, task)} if task else {}
            if not marker.exists():
                marker.write_text(f"{iso(now)} {action.reason}\n" + (f"{ON_COMPLETE_PID}{pids[task]}\n" if task else ""), encoding="utf-8")
            self.events.emit("", "sequence-complete", action.reason, now, phase=action.ended_phase, pids=pids)
            return Outcome(action, True)
        pids = {a.name: launch_pid(observation, a.name) for a in config.agents if a.kind == "loop" and a.enabled}
        if action.by_hand:
            marker.unlink(missing_ok=True)
            self.events.emit("", "phase-set", action.reason, now, index=action.index, phase=action.resumed, pids=pids)
        elif action.resumed is not None:
            marker.unlink(missing_ok=True)
            self.events.emit("", "phase-resumed", action.reason, now, phase=action.resumed, pids=pids)
        else:
            self.events.emit("", "phase-advance", action.reason, now, phase=action.ended_phase, index=action.index, pids=pids)
        return Outcome(action, True)

    def _start(self, state: WatchdogState, action: Start, observation: Observation) -> Outcome:
        config = self.project.config
        unit = config.agent(action.agent) or config.service(action.agent)
        if unit is None:
            return Outcome(action, False, f"{action.agent} is not in the config")
        seen = observation.agents.get(action.agent)
        pane = seen.pane if seen is not None else observation.services.get(action.agent)
        started = self.project.start(unit, pane, state.phase.index, prompt=action.prompt, resume=action.resume, sleep=self.sleep)
        if started.failed:
            self.events.emit(action.agent, f"{action.kind}-failed", f"{action.reason}: {started.detail}", observation.now)
            return Outcome(action, False, started.detail)
        self.events.emit(action.agent, action.kind, action.reason, observation.now, session=started.session)
        return Outcome(action, True)

    def _deliver(self, state: WatchdogState, action: Deliver, now: float) -> Outcome:
        config = self.project.config
        unit = config.agent(action.agent)
        message = next((m for m in state.agent(action.agent).outbox if m.id == action.message), None)
        if unit is None or message is None:
            return Outcome(action, False, f"no message {action.message} for {action.agent}")
        backend = config.backend_of(unit)
        confirm = None
        if hooks.wired(backend.screen, backend.hooks) and state.agent(unit.name).hooks.last_event_at is not None and action.via != "queue":
            # Only once the session's hooks have been heard from (Codex fires none before its
            # first prompt; a session started before hooks were wired never will). A message
            # handed to the CLI's queue is accepted only when the running turn ends.
            refresh = self.project.hook_refresh(unit)  # an agent on a [[host]]: its hook events are copied here
            if refresh is not None:
                refresh()
            confirm = HookConfirmation(hooks.hook_log(self.project.log_dir, unit.name), message.text, sleep=self.sleep, refresh=refresh)
        key = backend.queue_key if action.via == "queue" else backend.submit_key
        result = deliver(self.project.runtime, unit.session or "", message.text, replace(backend, submit_key=key),
                         attempts=config.watchdog.delivery_attempts, confirm=confirm, sleep=self.sleep)
        details: dict[str, object] = {"submits": result.attempts, "confirmed": result.confirmed_by or ("cli-queue" if action.via == "queue" else "")}
        if result.prompt_id:
            details["prompt_id"] = result.prompt_id
        if action.via != "submit":
            details["via"] = "queue key" if action.via == "queue" else "submit only (the text was still in the box)"
        if action.waited >= 1:
            details["waited_s"] = round(action.waited, 1)
        if len(message.items) > 1:
            details["merged"] = len(message.items)
        if message.items:
            details["commits"] = commit_ids(message.items)  # what a rebuilt state knows was announced (watchdog.rebuild)
        if result.ok:
            reason = message.reason if action.via != "queue" else f"{message.reason} (the agent stayed busy {action.waited:.0f}s: handed to its CLI's queue)"
            self.events.emit(action.agent, message.kind, reason, now, **details)
            # Handed to the CLI's queue with hooks live, it is done only once the CLI accepts it.
            confirmed = "" if action.via == "queue" and confirm is None and hooks.wired(backend.screen, backend.hooks) \
                and state.agent(unit.name).hooks.last_event_at is not None else result.confirmed_by
            return Outcome(action, True, attempts=result.attempts, confirmed=confirmed)
        self.events.emit(action.agent, "delivery-failed", f"{message.kind}: {result.reason}", now, message=message.id)
        return Outcome(action, False, result.reason, result.attempts)

    def _keys(self, action: Keys, now: float) -> Outcome:
        unit = self.project.config.agent(action.agent)
        if unit is None:
            return Outcome(action, False, f"{action.agent} is not an agent of the config")
        try:
            self.project.runtime.send_key(unit.session or "", *action.keys)
        except TmuxError as exc:
            self.events.emit(action.agent, "keys-failed", f"{action.reason}: {exc}", now)
            return Outcome(action, False, str(exc))
        self.events.emit(action.agent, "dialog-answered", action.reason, now, keys=list(action.keys))
        return Outcome(action, True)

    def _close_tokens(self, action: CloseTokens, now: float) -> Outcome:
        if self.ledger is None:
            return Outcome(action, False, "no token ledger (log_tokens is off)")
        if action.reread:
            # The loop agents were restarted earlier in this tick, so the old sessions'
            # transcripts are final and the new ones have written nothing yet: one more read
            # charges the finishing turn's last replies to the phase they belong to.
            self.ledger.poll(now, action.phase, self.ledger.open_ids()[1])
        if action.gate_only:
            self.ledger.close_gate(now, action.phase, None)
        else:
            # Recorded PHASE_SETTLE seconds later by the ledger's poll: a turn's last record can
            # reach its transcript just after the Stop hook the advance waited for.
            self.ledger.close_phase(now, action.phase, action.at, successor=action.successor, with_last_read=action.reread,
                                    settle=PHASE_SETTLE)
        return Outcome(action, True)
