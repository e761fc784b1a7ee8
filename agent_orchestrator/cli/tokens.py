"""`agents tokens` — the token ledger as a table (phases and gates × agents), or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from agent_orchestrator.cli import common, render
from agent_orchestrator.tokens import scan_paths
from agent_orchestrator.tokens.ledger import open_buckets, read_ledger


def tokens(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the records as JSON."),
    live: bool = typer.Option(False, "--live", help="Include the running phase and gate (not yet recorded)."),
    scan: list[Path] | None = typer.Option(None, "--scan", help="Sum these transcript files or folders directly (repeatable)."),
) -> None:
    """Tokens per phase and per gate from <log_dir>/token-log.jsonl (or --scan transcripts)."""
    if scan:
        try:
            sessions = scan_paths(scan)
        except FileNotFoundError as exc:
            common.fail(str(exc), common.EXIT_USAGE)
        if as_json:
            total = sum(sessions.values(), start=type(next(iter(sessions.values())))()) if sessions else None
            payload = {"sessions": {k: v.to_dict() for k, v in sessions.items()}, "total": total.to_dict() if total else None}
            common.out.print_json(json.dumps(payload))
        else:
            common.out.print(render.scan_table(sessions))
        return
    config = common.load(ctx)
    log_dir = Path(config.defaults.log_dir)
    records = read_ledger(log_dir)
    if live:
        records = records + open_buckets(log_dir)
    if as_json:
        common.out.print_json(json.dumps(records))
        return
    if not records:
        hint = "" if config.watchdog.log_tokens else " ([watchdog] log_tokens = true turns the ledger on)"
        common.out.print(f"no token records yet in {log_dir / 'token-log.jsonl'}{hint}", markup=False)
        return
    common.out.print(render.tokens_table(records, [a.name for a in config.agents]))
