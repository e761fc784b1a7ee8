"""Pure renderers: state in, rich renderables out. Nothing here reads tmux or files."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # annotations only: `tokens --scan` renders without loading the runtime
    from agent_orchestrator.config.schema import Config
    from agent_orchestrator.runtime.project import Outcome, UnitStatus
    from agent_orchestrator.truth.model import Truth
    from agent_orchestrator.watchdog.view import Queued

_STATE_STYLE = {
    "running": "green",
    "stopped": "dim",
    "disabled": "dim",
    "dead": "red",
    "exited": "yellow",
    "needs-human": "bold red",
    "limited": "magenta",
    "paused": "cyan",
    "foreign": "bold yellow",
}
_ACTION_STYLE = {"started": "green", "restarted": "yellow", "failed": "bold red", "stopped": "cyan"}


def summary(config: Config) -> str:
    """One line describing a config: prefix, agents by kind, services, backends used, phases."""
    kinds: dict[str, int] = {}
    for agent in config.agents:
        kinds[agent.kind] = kinds.get(agent.kind, 0) + 1
    by_kind = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    used = sorted({a.backend or "" for a in config.agents})
    parts = [
        f"{len(config.agents)} agent{'s' if len(config.agents) != 1 else ''}" + (f" ({by_kind})" if by_kind else ""),
        f"{len(config.services)} service{'s' if len(config.services) != 1 else ''}",
        f"backends: {', '.join(used) or 'none'}",
    ]
    if config.loop is not None:
        parts.append(f"{len(config.loop.phases)} phase{'s' if len(config.loop.phases) != 1 else ''}")
    return f"prefix {config.defaults.session_prefix!r}: " + "; ".join(parts)


def with_held(row: UnitStatus, held: object | None) -> UnitStatus:
    """The row with the watchdog's hold (needs-human, limited, paused) beside its own state."""
    if held is None:
        return row
    return dataclasses.replace(row, hold=getattr(held, "state", ""))


def state_label(row: UnitStatus) -> str:
    """The state as shown: the pane's state (`dead (1)` with its exit code), `→ disabled` when the
    config disabled a unit that still runs, and the watchdog's hold after a `·` — the pane's truth
    is never replaced by the hold (`dead (1) · paused`)."""
    label = f"dead ({row.exit_code})" if row.state == "dead" and row.exit_code is not None else row.state
    if not row.enabled and row.state in ("running", "dead", "exited"):
        label += " → disabled"
    if row.hold:
        label += f" · {row.hold}"
    return label


def state_text(row: UnitStatus) -> Text:
    """The state cell (`state_label`), colour-coded by the hold if any, else by the pane's state."""
    return Text(state_label(row), style=_STATE_STYLE.get(row.hold or row.state, ""))


def status_notes(rows: Sequence[UnitStatus], held: Mapping[str, object], queued: Mapping[str, Sequence[Queued]] | None = None) -> list[str]:
    """The lines under the `status` table: each hold with its detail, each agent whose next
    message waits for a person (`watchdog.view.Queued.person`: text typed in its input box…),
    each unit whose session belongs to another project, each disabled unit that still runs."""
    lines = [f"{name}: {getattr(h, 'state', '')} — {getattr(h, 'detail', '')}" for name, h in held.items()]
    for name, messages in (queued or {}).items():
        if messages and messages[0].person:
            lines.append(f"{name}: {len(messages)} message{'s' if len(messages) != 1 else ''} queued, waiting: {messages[0].waiting} "
                         f"(`agents status --why {name}` lists them)")
    for row in rows:
        if row.state == "foreign":
            lines.append(f"{row.name}: session {row.session} belongs to another project ({row.owner}); "
                         "this project does not start, stop or message it")
        elif not row.enabled and row.state in ("running", "exited"):
            lines.append(f"{row.name}: enabled = false, but its session still runs; `agents down {row.name}` stops it")
    return lines


_DOING_STYLE = {"busy": "green", "retrying": "magenta", "needs-input": "bold yellow", "api-error": "red", "unsubmitted": "yellow",
                "dialog": "yellow", "waiting-until": "cyan", "exited": "red"}


def doing_text(truth: Truth | None) -> Text:
    """The `doing` cell: the watchdog's verdict with its source (`busy·hook`, `idle·screen`)."""
    if truth is None:
        return Text("-", style="dim")
    return Text(truth.label, style=_DOING_STYLE.get(truth.state, ""))


def queued_text(messages: Sequence[Queued]) -> Text:
    """The `queued` cell: how many messages wait in the agent's outbox (`2`), `1 held` in yellow
    when the next one waits for a person, `-` for none."""
    if not messages:
        return Text("-", style="dim")
    if messages[0].person:
        return Text(f"{len(messages)} held", style="bold yellow")
    return Text(str(len(messages)))


def status_table(config: Config, rows: Sequence[UnitStatus], flags: Mapping[str, int] | None = None,
                 doing: Mapping[str, Truth] | None = None, queued: Mapping[str, Sequence[Queued]] | None = None) -> Table:
    """The `status` table; with `doing` (the watchdog's verdict per agent) a `doing` column, with
    `queued` (messages waiting in each agent's outbox) a `queued` column when any waits, with
    `flags` (open flags per watcher agent) a `flags` column."""
    table = Table(title=None, show_edge=False, header_style="bold")
    columns = ("name", "kind", "backend", "model", "watch", "session", "state", *(("doing",) if doing is not None else ()),
               *(("queued",) if queued else ()), *(("flags",) if flags else ()))
    for column in columns:
        table.add_column(column)
    for row in rows:
        cells: list[str | Text] = [row.name, row.kind, row.backend or "-", row.model or "-", row.watch or "-", row.session, state_text(row)]
        if doing is not None:
            cells.append(doing_text(doing.get(row.name)) if row.kind not in ("service", "watchdog") and row.state == "running" else Text("-", style="dim"))
        if queued:
            cells.append(queued_text(queued.get(row.name, ())))
        if flags:
            count = flags.get(row.name)
            cells.append("-" if count is None else Text(f"{count} open", style="bold yellow" if count else "dim"))
        table.add_row(*cells)
    return table


def flags_table(flags: Sequence, now: float) -> Table:
    """`agents flags`: two lines per decision (`watchers.decisions.Flag`), oldest first — the short id, its
    status, watcher, entity, context -> choice and age, then the reasoning (wrapped)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column()
    for flag in flags:
        d = flag.decision
        head = Text()
        if flag.open:
            head.append("open", style="bold yellow")
        else:
            head.append(f"resolved by {flag.resolution.get('by', '?')}", style="dim")
        head.append(f"  {d.watcher}  {d.entity_id}  {d.context} -> {d.choice}  {_duration(now - d.decided_at)} ago")
        table.add_row(Text(d.id[:8], style="bold"), head)
        table.add_row("", Text(d.reasoning, style="" if flag.open else "dim"))
    return table


def outcome_table(outcomes: Sequence[Outcome]) -> Table:
    """What `up` / `down` did, one row per unit."""
    table = Table(show_edge=False, header_style="bold")
    for column in ("name", "session", "action", "detail"):
        table.add_column(column)
    for o in outcomes:
        table.add_row(o.name, o.session, Text(o.action, style=_ACTION_STYLE.get(o.action, "")), o.detail)
    return table


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def phase_panel(info) -> Table:
    """`phase show` as a two-column table."""
    table = Table(show_header=False, show_edge=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    done = {True: Text("yes", style="green"), False: Text("no", style="yellow"), None: Text("unknown (no [loop].repo)", style="dim")}[info.done]
    rows = [
        ("phase", f"{info.phase_id} ({info.index + 1}/{info.total})"),
        ("plan", info.plan),
        ("status file", info.status_file),
        ("done", done),
        ("in phase", _duration(info.in_phase_s) + (" (until the sequence completed)" if info.complete and info.in_phase_s is not None else "")),
        ("sequence complete", "yes" if info.complete else "no"),
    ]
    if info.on_complete:
        rows.append(("on_complete", info.on_complete))
    for key, value in rows:
        table.add_row(key, value)
    return table


def token_columns(records: Sequence[Mapping], agents: Sequence[str]) -> list[str]:
    """The agent columns of `tokens`, the same from one run to the next: every agent of
    `agents` (the config's token-bearing agents, in config order), then any other name the
    records hold (an agent since removed from the config), sorted."""
    extra = sorted({a for r in records for a in r.get("agents", {})} - set(agents))
    return [*agents, *extra]


def tokens_table(records, agents: Sequence[str]) -> Table:
    """Rows: phases and gates; columns: each agent's total (`token_columns`), the total, the duration."""
    columns = token_columns(records, agents)
    table = Table(show_edge=False, header_style="bold")
    table.add_column("phase / gate")
    for name in columns:
        table.add_column(name, justify="right")
    table.add_column("total", justify="right")
    table.add_column("duration", justify="right")
    for r in records:
        label = Text(r["phase_id"], style="" if r.get("gate") else "bold")
        if r.get("ended") is None:
            label.append(" (running)", style="dim")
        cells = [f"{r.get('agents', {}).get(n, {}).get('total', 0):,}" for n in columns]
        table.add_row(label, *cells, f"{r.get('total', {}).get('total', 0):,}", _duration(r.get("duration_s")))
    return table


def scan_table(sessions) -> Table:
    """`tokens --scan`: one row per transcript session and a total."""
    table = Table(show_edge=False, header_style="bold")
    for column in ("session", "input", "output", "cache read", "cache write", "total"):
        table.add_column(column, justify="right" if column != "session" else "left")
    grand = [0, 0, 0, 0, 0]
    for name, u in sorted(sessions.items()):
        values = [u.input, u.output, u.cache_read, u.cache_write, u.total]
        grand = [g + v for g, v in zip(grand, values, strict=False)]
        table.add_row(name, *(f"{v:,}" for v in values))
    table.add_row(Text("total", style="bold"), *(f"{v:,}" for v in grand))
    return table
