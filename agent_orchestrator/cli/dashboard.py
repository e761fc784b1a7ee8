"""`agents status --watch`: a live dashboard of the team, sized for an 80×24 terminal over SSH.

Three parts, as everywhere in the CLI: `snapshot` reads the world once (one tmux observation, the
watchdog's saved state, the token ledger, the tail of the event log) into a `Dashboard`;
`render_dashboard` is pure (a `Dashboard` in, a rich renderable out); `run_dashboard` is the thin
`Live` loop that swaps renders — on a new event, or every `interval` seconds — until Ctrl-C (or a
bounded `seconds` / `frames`, for tests and scripts).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from agent_orchestrator.cli.render import state_label, with_held
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.tokens.ledger import open_buckets, read_ledger
from agent_orchestrator.watchdog.state import load_state
from agent_orchestrator.watchdog.view import held_states, outboxes

TAIL_BYTES = 64 * 1024  # the end of events.jsonl read per frame: far more than a screen of events

_STYLE = {"running": "green", "stopped": "dim", "disabled": "dim", "foreign": "bold yellow", "dead": "red", "exited": "yellow"}
_HOLD_STYLE = {"needs-human": "bold red", "limited": "magenta", "paused": "cyan"}
_EVENT_STYLE = {"needs-human": "bold red", "needs-input": "bold yellow", "usage-limit": "magenta", "sequence-complete": "bold green",
                "phase-advance": "green", "config-invalid": "bold red", "tick-error": "red", "notify-failed": "red"}


@dataclass(frozen=True)
class AgentLine:
    """One agent's row: `state` as `status` shows it (`dead (1) · paused`), `doing` the watchdog's
    verdict with its source (`busy·hook`, "" when it has none or the agent is not running),
    `phase` its phase/gate ("" for agents outside the loop), `idle_s` seconds since its screen
    last changed (None unknown), `restarts` starts inside the restart window, `tokens` spent so
    far (None: not counted), `hold` the watchdog's hold ("" none), `queued` messages waiting in
    its outbox, `queue_held` set when the next one waits for a person (text in the input box)."""

    name: str
    state: str
    doing: str = ""
    phase: str = ""
    idle_s: float | None = None
    restarts: int = 0
    tokens: int | None = None
    hold: str = ""
    queued: int = 0
    queue_held: bool = False


@dataclass(frozen=True)
class Dashboard:
    """Everything one frame shows. `now` is epoch seconds; `events` are events.jsonl records,
    oldest first; `phase` the phase line ("" without a [loop]); `watchdog` its one-line state;
    `warning` a config problem to show on top ("" none)."""

    title: str
    now: float
    agents: tuple[AgentLine, ...]
    phase: str = ""
    watchdog: str = ""
    events: tuple[Mapping[str, Any], ...] = ()
    warning: str = ""


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def _tokens(n: int | None) -> str:
    if n is None:
        return "-"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    return f"{n / 1000:.1f}k" if n >= 10_000 else f"{n:,}"


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S")


def _queued(a: AgentLine) -> Text:
    if not a.queued:
        return Text("-", style="dim")
    return Text(f"{a.queued}!" if a.queue_held else str(a.queued), style="bold yellow" if a.queue_held else "")


def render_dashboard(board: Dashboard, max_events: int = 5) -> RenderableType:
    """The frame for `board`: a title line, one row per agent, the phase line, the watchdog line
    and the last `max_events` events (one line each, cut to the width). Pure."""
    parts: list[RenderableType] = [Text.assemble((board.title, "bold"), ("  " + _clock(board.now), "dim"), no_wrap=True, overflow="ellipsis")]
    if board.warning:
        parts.append(Text(board.warning, style="bold red", no_wrap=True, overflow="ellipsis"))
    table = Table(show_edge=False, header_style="bold", pad_edge=False, box=None, padding=(0, 1))
    table.add_column("agent", no_wrap=True, overflow="ellipsis", max_width=16)
    table.add_column("state", no_wrap=True, overflow="ellipsis", max_width=26)
    table.add_column("phase/gate", no_wrap=True, overflow="ellipsis", max_width=14)
    table.add_column("idle", no_wrap=True, justify="right")
    table.add_column("rst", no_wrap=True, justify="right")
    table.add_column("tokens", no_wrap=True, justify="right")
    table.add_column("out", no_wrap=True, justify="right")
    for a in board.agents:
        shown = f"{a.doing} · {a.hold}" if a.doing and a.hold else (a.doing or a.state)
        style = _HOLD_STYLE.get(a.hold, "") or ("green" if a.doing.startswith("busy") else _STYLE.get(a.state.split(" ")[0], "yellow"))
        table.add_row(a.name, Text(shown, style=style), a.phase or "-", _duration(a.idle_s), str(a.restarts) if a.restarts else "-",
                      _tokens(a.tokens), _queued(a))
    parts.append(table)
    if board.phase:
        parts.append(Text(board.phase, no_wrap=True, overflow="ellipsis"))
    if board.watchdog:
        parts.append(Text(board.watchdog, style="dim", no_wrap=True, overflow="ellipsis"))
    if max_events > 0 and board.events:
        parts.append(Text("last events", style="bold"))
        for e in list(board.events)[-max_events:]:
            action = str(e.get("action", ""))
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(_clock(float(e.get("ts", 0) or 0)) + " ", style="dim")
            line.append(f"{e.get('agent') or '-'} ")
            line.append(action, style=_EVENT_STYLE.get(action, "cyan"))
            line.append(f": {e.get('reason', '')}")
            parts.append(line)
    parts.append(Text("Ctrl-C to quit", style="dim"))
    return Group(*parts)


def fixed_lines(board: Dashboard) -> int:
    """Rows the frame takes besides the event lines (to fit the events into the terminal)."""
    return 1 + bool(board.warning) + 1 + len(board.agents) + bool(board.phase) + bool(board.watchdog) + 1 + 1


# -- reading the world ------------------------------------------------------------------------
def tail_events(log_dir: Path, limit: int) -> list[dict[str, Any]]:
    """The last `limit` events of `<log_dir>/events.jsonl` (reads only its end; torn lines skipped)."""
    path = Path(log_dir) / "events.jsonl"
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - TAIL_BYTES))
            data = fh.read()
    except OSError:
        return []
    lines = data.split(b"\n")
    if size > TAIL_BYTES:
        lines = lines[1:]  # the first one is cut
    lines = [raw for raw in lines if raw.strip()]
    out = []
    for raw in lines[-limit:] if limit > 0 else []:
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        if isinstance(event, dict):
            out.append(event)
    return out


def token_totals(log_dir: Path) -> dict[str, int]:
    """Tokens per agent so far: the recorded phases plus the phase still open."""
    totals: dict[str, int] = {}
    for record in [*read_ledger(log_dir), *open_buckets(log_dir)]:
        if record.get("gate"):
            continue  # a gate's tokens are inside its phase's
        for name, usage in record.get("agents", {}).items():
            totals[name] = totals.get(name, 0) + int(usage.get("total", 0) or 0)
    return totals


def snapshot(proj: Project, now: float, *, max_events: int = 20, warning: str = "") -> Dashboard:
    """Read the world once for a frame at `now` (epoch seconds)."""
    config, log_dir = proj.config, proj.log_dir
    panes = proj.runtime.observe()
    held = held_states(log_dir)
    waiting = outboxes(log_dir, now)
    state = load_state(log_dir)
    rows = [with_held(r, held.get(r.name)) for r in proj.status(panes) if r.kind != "service"]
    tokens = token_totals(log_dir) if config.watchdog.log_tokens or (log_dir / "token-log.jsonl").exists() else {}
    loop = config.loop
    phase_line, loop_phase = "", ""
    if loop is not None and loop.phases:
        ph = state.phase
        index = min(ph.index, len(loop.phases) - 1)
        gate = state.handoff.gate
        loop_phase = loop.phases[index].id + (f"/{gate}" if gate and not ph.complete else "")
        if ph.complete:
            end = ph.completed_at if ph.completed_at is not None else now
            phase_line = (f"sequence complete: {len(loop.phases)} phase{'s' if len(loop.phases) != 1 else ''} "
                          f"(last: {loop.phases[index].id}, {_duration(end - ph.started) if ph.started else '-'})")
        else:
            phase_line = (f"phase {loop.phases[index].id} ({index + 1}/{len(loop.phases)})" + (f" · gate {gate}" if gate else "")
                          + (f" · {_duration(now - ph.started)} in phase" if ph.started else ""))
    lines = []
    for row in rows:
        st = state.agents.get(row.name)
        agent = config.agent(row.name)
        doing = st.truth.label if st is not None and st.truth is not None and row.state == "running" and row.enabled else ""
        lines.append(AgentLine(
            name=row.name, state=state_label(row), doing=doing, hold=row.hold,
            phase=loop_phase if agent is not None and agent.kind == "loop" else "",
            idle_s=(now - st.idle_since) if st is not None and st.idle_since is not None and row.state == "running" else None,
            restarts=len(st.restarts) if st is not None else 0,
            tokens=tokens.get(row.name) if tokens else None,
            queued=len(waiting.get(row.name, ())), queue_held=bool(waiting.get(row.name)) and waiting[row.name][0].person,
        ))
    wd = proj.watchdog_status(panes)
    if wd.state == "running":
        tick = f", last tick {_duration(now - state.last_tick)} ago" if state.last_tick else ""
        watchdog = f"watchdog running (pid {state.pid or wd.pid}{tick})"
    else:
        watchdog = f"watchdog {wd.state}: nobody heals or nudges the agents (`agents up` starts it)"
    if state.config_error and not warning:
        warning = "the watchdog keeps the last good config: " + state.config_error.splitlines()[0]
    return Dashboard(title=f"{config.path} — {config.defaults.session_prefix}", now=now, agents=tuple(lines), phase=phase_line,
                     watchdog=watchdog, events=tuple(tail_events(log_dir, max_events)), warning=warning)


def _changed(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def run_dashboard(proj: Project, console: Console, *, seconds: float | None = None, frames: int | None = None, interval: float = 1.0,
                  clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> int:
    """Show the dashboard on `console` until Ctrl-C, `seconds` (monotonic) or `frames` frames;
    returns the number of frames drawn. A frame is redrawn when events.jsonl grows, or every
    `interval` seconds. Off a terminal (a pipe) only the last frame is printed."""
    deadline = None if seconds is None else monotonic() + seconds
    events = proj.log_dir / "events.jsonl"
    drawn = 0
    with Live(console=console, auto_refresh=False, transient=False, redirect_stdout=False, redirect_stderr=False) as live:
        try:
            while True:
                board = snapshot(proj, clock())
                room = max(0, console.size.height - fixed_lines(board) - 1) if console.is_terminal else 10
                live.update(render_dashboard(board, max_events=room), refresh=True)
                drawn += 1
                if (frames is not None and drawn >= frames) or (deadline is not None and monotonic() >= deadline):
                    break
                seen = _changed(events)
                waited = 0.0
                while waited < interval and _changed(events) == seen:
                    if deadline is not None and monotonic() >= deadline:
                        break
                    sleep(0.1)
                    waited += 0.1
        except KeyboardInterrupt:
            pass
    if not console.is_terminal:
        console.line()  # off a terminal Live prints the last frame without its final newline
    return drawn


def dashboard_lines(board: Dashboard, width: int = 80, max_events: int = 5) -> Sequence[str]:
    """The frame as plain text lines at `width` columns (tests, the README)."""
    console = Console(width=width, record=True, file=open(os.devnull, "w"), color_system=None)  # noqa: SIM115 - closed with the console below
    try:
        console.print(render_dashboard(board, max_events=max_events))
        return console.export_text().splitlines()
    finally:
        console.file.close()
