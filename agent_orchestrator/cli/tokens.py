"""`agents tokens` — the token ledger as a table (phases and gates × agents), or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from agent_orchestrator.cli import common, render
from agent_orchestrator.cli.scan import print_scan

if TYPE_CHECKING:
    from agent_orchestrator.config import Config


def tokens(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the records as JSON."),
    live: bool = typer.Option(False, "--live", help="Include the running phase and gate (not yet recorded)."),
    scan: list[Path] | None = typer.Option(None, "--scan", help="Sum transcript files or folders directly: --scan A B (or --scan A --scan B)."),
    more: list[Path] | None = typer.Argument(None, metavar="PATH", show_default=False, help="More files or folders for --scan."),
) -> None:
    """Tokens per phase and per gate from <log_dir>/token-log.jsonl (or --scan transcripts)."""
    if more and not scan:
        common.fail(f"{more[0]}: transcript paths are read with --scan (tokens --scan PATH...)", common.EXIT_USAGE)
    if scan:
        print_scan([*scan, *(more or [])], as_json)
        return
    from agent_orchestrator.tokens.ledger import open_buckets, read_ledger

    config = common.load_readonly(ctx)
    log_dir = Path(config.defaults.log_dir)
    records = read_ledger(log_dir)
    if live:
        records = records + open_buckets(log_dir)
    columns = render.token_columns(records, token_agents(config, records))
    if as_json:
        ordered = [{**r, "agents": {n: r["agents"][n] for n in columns if n in r.get("agents", {})}} if "agents" in r else r for r in records]
        common.out.print_json(json.dumps(ordered))
        return
    if not records:
        hint = "" if config.watchdog.log_tokens else " ([watchdog] log_tokens = true turns the ledger on)"
        common.out.print(f"no token records yet in {log_dir / 'token-log.jsonl'}{hint}", markup=False)
        return
    common.out.print(render.tokens_table(records, columns))


def token_agents(config: Config, records: list[dict[str, Any]]) -> list[str]:
    """The agents `tokens` has a column for, in config order: every agent whose backend writes
    transcripts (so the columns do not come and go with who has spent tokens yet), and any other
    agent the records name."""
    named = {n for r in records for n in r.get("agents", {})}
    return [a.name for a in config.agents
            if a.name in named or (not config.is_watcher(a) and config.backend_of(a).transcripts.reader != "none")]

