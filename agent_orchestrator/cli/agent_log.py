"""`agent-log`: an agent's transcripts as a clean, greppable log (one line per event).

    agent-log NAME [--config agents.toml]      # the agent's transcripts, found from the config
    agent-log --all                             # every agent, lines prefixed by [name]
    agent-log --path FILE_OR_DIR ...            # given transcript files / folders
    options: --follow/-f  --since 2h|ISO  --json  -n N  --result-lines N

This module parses the arguments and prints. Where an agent's transcripts are is decided by
`transcripts.discovery`; reading them (`LogSet`) is `transcripts.reader`; rendering is
`transcripts.render`.

Exit codes: 0 ok (also Ctrl-C in --follow), 1 no transcripts found, 2 usage or config error.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

import typer

from agent_orchestrator.cli import common
from agent_orchestrator.config import ConfigError, load_config
from agent_orchestrator.config.fields import suggest
from agent_orchestrator.transcripts.discovery import Source, agent_source, path_source
from agent_orchestrator.transcripts.reader import LogSet, Tagged
from agent_orchestrator.transcripts.render import event_json, render_line

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
POLL_SECONDS = 0.5
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

app = typer.Typer(name="agent-log", add_completion=False, pretty_exceptions_enable=False,
                  help="Render agent transcripts (Claude Code, Codex) as a clean, greppable log.")  # fmt: skip


def fail(message: str, code: int) -> NoReturn:
    """Print `message` on stderr and exit with `code`."""
    typer.echo(message, err=True)
    raise typer.Exit(code)


def parse_since(text: str, now: datetime) -> datetime:
    """``--since``: a duration before ``now`` (``90s``, ``30m``, ``2h``, ``1d``, ``1h30m``) or an
    ISO-8601 time (a time without an offset is UTC, like every time the log prints).

    ``now`` is an aware datetime; returns an aware UTC datetime. Raises ValueError otherwise.
    """
    text = text.strip()
    if text and _DURATION.sub("", text) == "":
        return now - timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(text)))
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since {text!r}: expected a duration (90s, 30m, 2h, 1d) or an ISO time "
                         "(2026-11-22T03:00:00Z)") from None  # fmt: skip
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC)


def select(batch: list[Tagged], since: datetime | None = None, last: int | None = None) -> list[Tagged]:
    """Events at or after ``since`` (events without a time are dropped then), then the last N."""
    if since is not None:
        batch = [t for t in batch if t[1].ts is not None and t[1].ts >= since]
    return batch[-last:] if last else ([] if last == 0 else batch)


def formatter(as_json: bool, prefix: bool, result_lines: int) -> Callable[[Tagged], str]:
    """Turn a tagged event into an output line: text (``[agent] `` prefix if asked) or JSON."""

    def fmt(tagged: Tagged) -> str:
        agent, ev = tagged
        if as_json:
            return json.dumps({"agent": agent, **event_json(ev)} if agent else event_json(ev), ensure_ascii=False)
        return render_line(ev, agent=agent if prefix else None, max_result_lines=result_lines)

    return fmt


def follow(logs: LogSet, emit: Callable[[list[Tagged]], None], *, since: datetime | None = None,
           interval: float = POLL_SECONDS, sleep: Callable[[float], None] = time.sleep,
           polls: int | None = None) -> None:  # fmt: skip
    """Poll ``logs`` every ``interval`` seconds and ``emit`` each non-empty batch of new events.

    Runs until interrupted, or for ``polls`` polls (tests pass a fake ``sleep`` and a count).
    """
    n = 0
    while polls is None or n < polls:
        sleep(interval)
        batch = select(logs.poll(), since)
        if batch:
            emit(batch)
        n += 1


def _sources(config_path: Path, name: str | None) -> list[Source]:
    """The named agent's source, or (name None) those of every agent whose backend has a reader."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        for line in exc.lines:
            typer.echo(line, err=True)
        raise typer.Exit(EXIT_USAGE) from None
    known = [a.name for a in config.agents]
    if name is not None and config.agent(name) is None:
        fail(f'unknown agent "{name}" in {config_path} (agents: {", ".join(known) or "none"}){suggest(name, known)}', EXIT_USAGE)
    try:
        if name is not None:
            return [agent_source(config, config.agent(name))]  # type: ignore[arg-type]
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    sources = [agent_source(config, a) for a in config.agents
               if config.backend_of(a).transcripts.reader in ("claude", "codex")]  # fmt: skip
    if not sources:
        fail(f"{config_path}: no agent has a backend with a transcript reader (claude, codex)", EXIT_USAGE)
    return sources


@app.command()
def agent_log(
    name: str | None = typer.Argument(None, metavar="NAME", help="Agent whose transcripts to show."),
    config: Path = typer.Option(Path("agents.toml"), "--config", "-c", help="Path of agents.toml."),
    paths: list[Path] | None = typer.Option(None, "--path", "-p", help="Transcript file or folder instead of an agent (repeatable)."),
    follow_: bool = typer.Option(False, "--follow", "-f", help="Keep printing new events (and new sessions) until Ctrl-C."),
    since: str | None = typer.Option(None, "--since", help="Only events since a duration ago (30m, 2h, 1d) or an ISO time (UTC if no offset)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per event per line."),
    every: bool = typer.Option(False, "--all", help="Every agent of the config, lines prefixed by \\[name], merged in time order."),
    last: int | None = typer.Option(None, "-n", "--lines", min=0, help="Only the last N events (of the history, with --follow)."),
    result_lines: int = typer.Option(3, "--result-lines", min=1, help="Lines shown per tool result."),
    out_dir: Path | None = typer.Option(None, "--out", help="Write each agent's lines to OUT/<agent>.log instead of stdout (for a logs [[service]])."),
) -> None:
    """Print an agent's transcripts as one line per prompt, reply, tool call and tool result."""
    if sum((name is not None, every, bool(paths))) != 1:
        fail("give an agent NAME, --all, or --path FILE_OR_DIR (exactly one)", EXIT_USAGE)
    try:
        cutoff = parse_since(since, datetime.now(UTC)) if since is not None else None
        sources = [path_source(paths)] if paths else _sources(config, name)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    logs = LogSet(sources, warn=lambda msg: typer.echo(msg, err=True))
    fmt = formatter(as_json, every and out_dir is None, result_lines)

    def emit(batch: list[Tagged]) -> None:
        if out_dir is not None:
            write_per_agent(out_dir, batch, fmt)
            return
        sys.stdout.write("".join(fmt(t) + "\n" for t in batch))
        sys.stdout.flush()  # followers pipe into grep: do not sit in a block buffer

    try:
        emit(select(logs.poll(), cutoff, last))
        if not logs.files:
            where = "; ".join(s.where for s in sources)
            if not follow_:
                fail(f"no transcripts found; looked in {where}", EXIT_FAILURE)
            typer.echo(f"no transcripts yet; waiting for {where}", err=True)
        if follow_:
            follow(logs, emit, since=cutoff)
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_OK) from None


def write_per_agent(out_dir: Path, batch: list[Tagged], fmt: Callable[[Tagged], str]) -> None:
    """Append each event's line to `<out_dir>/<agent>.log` (`transcripts.log` for given paths)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lines: dict[str, list[str]] = {}
    for tagged in batch:
        lines.setdefault(tagged[0] or "transcripts", []).append(fmt(tagged) + "\n")
    for agent, rows in lines.items():
        with (out_dir / f"{agent}.log").open("a", encoding="utf-8") as fh:
            fh.writelines(rows)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``agent-log``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    common.run_quietly_on_closed_pipe(lambda: app(args=args, prog_name="agent-log"))


if __name__ == "__main__":
    main()
