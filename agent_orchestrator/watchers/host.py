"""Hosting a watcher as an agent: `agents watcher run NAME` runs this loop in the agent's tmux session.

`Host` binds one `[[agent]]` on the `watcher` backend to its watcher: it builds the watcher from
`watcher = "..."` (a built-in, `module:factory` or `command`), re-reads agents.toml before every
tick (an edit that does not validate keeps the last good config; `enabled = false`, removing the
agent or a watchdog pause makes ticks no-ops), runs one tick per `interval`, prints what happened
on its screen, writes a `flag` event per new decision, and pings the `notify` agent with each new
decision through the same verified delivery as `agents send` (retried on later ticks when the
agent cannot take it yet).
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_orchestrator.config import Config, ConfigError, load_config
from agent_orchestrator.config.watcher_names import BUILTIN_WATCHERS, COMMAND, ISSUE_RUNS
from agent_orchestrator.runtime.delivery import DeliveryResult, deliver
from agent_orchestrator.runtime.tmux import TmuxRuntime
from agent_orchestrator.watchdog.events import EventLog, iso
from agent_orchestrator.watchdog.lock import lock_holder
from agent_orchestrator.watchdog.requests import request_watchdog
from agent_orchestrator.watchers.decisions import Decision, FlagWatcher, TickReport, WatcherContext
from agent_orchestrator.watchers.ledger import DecisionLedger
from agent_orchestrator.watchers.loop import WatcherLoop, flag_tick
from agent_orchestrator.watchers.sources import watchdog_state

PING_ATTEMPTS = 5


class HostError(ValueError):
    """The named agent cannot host a watcher (unknown, or not on the watcher backend)."""


def build_watcher(ctx: WatcherContext, ledger: DecisionLedger) -> Any:
    """The watcher the hosting agent names: a `FlagWatcher`, or the issue-run watcher (which has
    its own `tick(now) -> TickReport`)."""
    kind = str(ctx.agent.watcher)
    if kind == ISSUE_RUNS:
        from agent_orchestrator.watchers.issue_runs import watcher as issue_runs

        return issue_runs.make(ctx, ledger)
    if kind in BUILTIN_WATCHERS:
        import importlib

        return importlib.import_module(f"agent_orchestrator.watchers.builtins.{kind}").make(ctx)
    from agent_orchestrator.watchers import user

    return user.command_watcher(ctx) if kind == COMMAND else user.entry_point_watcher(ctx)


def flag_ping_text(host: str, d: Decision) -> str:
    """The message the `notify` agent gets for a new decision `d` of the watcher agent `host`
    (not the watchdog's claim/review ping, `watchdog/policies/handoff.ping_text`)."""
    return (f"Watcher {host}: {d.reasoning} [{d.context} -> {d.choice}, entity {d.entity_id}]. "
            f"Decision {d.id[:8]}; when it is handled: agents flags resolve {d.id[:8]}")


@dataclass
class _Ping:
    text: str
    decision: str
    attempts: int = 0
    next_try: float = 0.0


class Host:
    """The watcher of agent `name` in the project at `config_path`.

    Raises ConfigError when the config does not validate and HostError when `name` is not a
    watcher agent. `out` prints a line on the watcher's screen; `send` delivers pings.
    """

    def __init__(self, config_path: Path, name: str, *, out: Callable[[str], None] = print,
                 send: Callable[..., DeliveryResult] = deliver, runtime: TmuxRuntime | None = None) -> None:
        self.config_path = Path(config_path)
        self.name = name
        self.out = out
        self.send = send
        config = load_config(self.config_path)
        agent = config.agent(name)
        if agent is None:
            raise HostError(f"{name}: no such agent in {self.config_path}")
        if not config.is_watcher(agent):
            raise HostError(f'{name} is not a watcher agent (it needs backend = "watcher" and watcher = "...")')
        self.ctx = WatcherContext(config, agent, Path(config.defaults.log_dir))
        self.ledger = DecisionLedger(self.ctx.log_dir)
        self.events = EventLog(self.ctx.log_dir)
        self.runtime = runtime or TmuxRuntime(config.defaults.tmux_socket)
        self.watcher: Any = None
        self.pending: list[_Ping] = []
        self._gate = ""
        self._config_error = ""

    @property
    def config(self) -> Config:
        """The project's config as last read (the last good one when an edit does not validate)."""
        return self.ctx.config

    def say(self, text: str, now: float | None = None) -> None:
        """Print `text` on the watcher's screen, stamped with `now` (epoch seconds; default the clock)."""
        self.out(f"{iso(time.time() if now is None else now)} {text}")

    # -- gating ----------------------------------------------------------------------------
    def enabled(self) -> bool:
        """Re-read agents.toml, then: is the hosting agent still an enabled, unpaused watcher?"""
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            if exc.lines[0] != self._config_error:
                self._config_error = exc.lines[0]
                self.say(f"agents.toml does not validate; keeping the last good config: {exc.lines[0]}")
            config = self.ctx.config
        else:
            self._config_error = ""
        agent = config.agent(self.name)
        if agent is None or not config.is_watcher(agent):
            return self._gated("the agent is no longer a watcher in agents.toml: idle")
        old = self.ctx.agent
        if (agent.watcher, agent.watcher_cmd) != (old.watcher, old.watcher_cmd):
            self.watcher = None  # rebuilt on the next tick
        self.ctx.config, self.ctx.agent = config, agent
        if config.defaults.tmux_socket != self.runtime.socket:
            self.runtime = TmuxRuntime(config.defaults.tmux_socket)
        if not agent.enabled:
            return self._gated("disabled (enabled = false): ticks do nothing")
        if watchdog_state(self.ctx.log_dir).agent(self.name).paused:
            return self._gated(f"paused: ticks do nothing until `agents resume {self.name}`")
        if self._gate:
            self.say("enabled: ticking again")
            self._gate = ""
        return True

    def _gated(self, why: str) -> bool:
        if why != self._gate:
            self._gate = why
            self.say(why)
        return False

    def interval(self) -> float:
        """Seconds between ticks: the hosting agent's `interval`, re-read with the config."""
        return float(self.ctx.agent.interval)

    # -- one tick --------------------------------------------------------------------------
    def tick(self, now: float) -> TickReport:
        """Run the watcher once, report, and ping for what is new."""
        if self.watcher is None:
            self.watcher = build_watcher(self.ctx, self.ledger)
        if isinstance(self.watcher, FlagWatcher):
            report = flag_tick(self.watcher, self.ledger, host=self.name, now=now, window=float(self.ctx.agent.window))
        else:
            report = self.watcher.tick(now)
        for note in report.notes:
            self.say(f"warning: {note}", now)
        for d in report.new:
            self.say(f"FLAG {d.id[:8]} {d.entity_id} [{d.context} -> {d.choice}]: {d.reasoning}", now)
            self.events.emit(self.name, "flag", d.reasoning, now, decision=d.id, context=d.context, choice=d.choice, entity=d.entity_id)
            if self.ctx.agent.notify:
                self.pending.append(_Ping(flag_ping_text(self.name, d), d.id))
        for did, note in report.resolved.items():
            self.say(f"resolved {did[:8]}: {note}", now)
        self.deliver_pings(now)
        return report

    def deliver_pings(self, now: float) -> None:
        """Try every due ping to the `notify` agent; a failed one waits a little longer each time."""
        target = self.config.agent(self.ctx.agent.notify or "")
        keep = []
        for ping in self.pending:
            if ping.next_try > now:
                keep.append(ping)
                continue
            if target is None:
                self.say(f"cannot ping {self.ctx.agent.notify!r}: no such agent", now)
                continue
            if lock_holder(self.ctx.log_dir) is not None:
                # The watchdog owns typing into panes: its outbox waits for the turn to end and
                # confirms the delivery (one delivery path for every message).
                request_watchdog(self.ctx.log_dir, "send", target.name, text=ping.text, kind="flag", why=f"flag from watcher {self.name}")
                self.events.emit(target.name, "flag-ping", f"from watcher {self.name} (queued in the watchdog's outbox)", now,
                                 decision=ping.decision)
                self.say(f"queued a ping to {target.name} about {ping.decision[:8]}", now)
                continue
            result = self.send(self.runtime, target.session or "", ping.text, self.config.backend_of(target),
                               attempts=self.config.watchdog.delivery_attempts)
            ping.attempts += 1
            if result.ok:
                self.events.emit(target.name, "flag-ping", f"from watcher {self.name}", now, decision=ping.decision)
                self.say(f"pinged {target.name} about {ping.decision[:8]}", now)
            elif ping.attempts >= PING_ATTEMPTS:
                self.events.emit(target.name, "flag-ping-failed", f"from watcher {self.name}: {result.reason}", now, decision=ping.decision)
                self.say(f"gave up pinging {target.name} about {ping.decision[:8]}: {result.reason}", now)
            else:
                ping.next_try = now + self.interval() * ping.attempts
                self.say(f"ping to {target.name} not delivered ({result.reason}); retrying", now)
                keep.append(ping)
        self.pending = keep


def run_watcher(config_path: Path, name: str, *, out: Callable[[str], None] | None = None) -> None:
    """`agents watcher run NAME`: the host's loop until SIGTERM, SIGINT or SIGHUP (tmux kill-session).

    Raises ConfigError or HostError, as `Host` does, before the loop starts.
    """

    def printer(line: str) -> None:
        print(line, flush=True)

    say = out or printer
    host = Host(config_path, name, out=say)
    agent = host.ctx.agent
    loop = WatcherLoop(host.tick, host.interval, enabled=host.enabled, log=lambda text: host.say(text))
    previous = {sig: signal.signal(sig, lambda *_: loop.stop()) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    what = agent.watcher if agent.watcher != COMMAND else f"command {' '.join(agent.watcher_cmd)}"
    host.say(f"watcher {name}: {what}; every {agent.interval:g}s, window {agent.window:g}s"
             + (f", notify {agent.notify}" if agent.notify else "") + f"; decisions in {host.ledger.path}")
    try:
        loop.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        try:
            host.say(f"watcher {name}: stopped")
            sys.stdout.flush()
        except OSError:
            pass  # the pane is already gone (tmux kill-session)
