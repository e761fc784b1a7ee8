"""`agents tokens --scan PATH…`: several paths after one --scan, or --scan repeated."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from agent_orchestrator.cli.app import app, normalize_argv
from tests.support.transcripts import claude_assistant


def agents(*args: str) -> Result:
    return CliRunner().invoke(app, normalize_argv(list(args)))


def session(path: Path, sid: str, out: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(claude_assistant(f"msg_{sid}", "req_1", out=out, inp=1, session=sid) + "\n")
    return path


def test_scan_takes_several_paths(tmp_path: Path) -> None:
    a = session(tmp_path / "one" / "a.jsonl", "sess-a", 10)
    b = session(tmp_path / "two" / "b.jsonl", "sess-b", 20)
    c = session(tmp_path / "three" / "c.jsonl", "sess-c", 30)
    want = {"sess-a": 11, "sess-b": 21, "sess-c": 31}
    for argv in (["--scan", str(a), str(b.parent), str(c)],
                 ["--scan", str(a), "--scan", str(b.parent), "--scan", str(c)],
                 [str(a), "--scan", str(b.parent), str(c)]):  # fmt: skip
        result = agents("tokens", *argv, "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert {k: v["total"] for k, v in data["sessions"].items()} == want
        assert data["total"]["total"] == sum(want.values())


def test_paths_without_scan_and_a_missing_path_are_usage_errors(tmp_path: Path) -> None:
    a = session(tmp_path / "a.jsonl", "sess-a", 10)
    bare = agents("tokens", str(a))
    assert bare.exit_code == 2
    assert "--scan" in bare.stderr
    missing = agents("tokens", "--scan", str(a), str(tmp_path / "nope"))
    assert missing.exit_code == 2
    assert missing.stderr.strip() == f"no such transcript file or folder: {tmp_path / 'nope'}"


def test_the_short_path_prints_what_the_full_app_prints_without_loading_it(tmp_path: Path) -> None:
    """cli/entry.py answers a plain `tokens --scan` without importing typer or the runtime; its
    output is byte for byte the full app's, and anything else still reaches the full app."""
    import subprocess
    import sys

    a = session(tmp_path / "one" / "a.jsonl", "sess-a", 10)
    b = session(tmp_path / "two" / "b.jsonl", "sess-b", 20)
    probe = ("import sys; from agent_orchestrator.cli.entry import main; main(sys.argv[1:]); "
             "sys.stderr.write(' '.join(m for m in ('typer', 'libtmux', 'agent_orchestrator.runtime.project') if m in sys.modules))")
    for extra in (["--json"], []):
        argv = ["tokens", "--scan", str(a), str(b.parent), *extra]
        short = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=True)
        assert short.stderr == "", f"the short path loaded: {short.stderr}"
        full = agents(*argv)
        assert full.exit_code == 0, full.output
        assert short.stdout == full.stdout
    missing = subprocess.run([sys.executable, "-c", probe, "tokens", "--scan", str(tmp_path / "nope")], capture_output=True, text=True)
    assert missing.returncode == 2 and "no such transcript file or folder" in missing.stderr
    helped = subprocess.run([sys.executable, "-c", probe, "tokens", "--scan", str(a), "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "--live" in helped.stdout  # answered by the full app
