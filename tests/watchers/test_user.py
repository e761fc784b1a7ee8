"""User watchers: a command's JSON lines become entities (bad lines are warnings) and an entry
point may return a plain drain."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent_orchestrator.watchers import user
from agent_orchestrator.watchers.decisions import WatcherContext
from agent_orchestrator.watchers.ledger import DecisionLedger
from agent_orchestrator.watchers.loop import flag_tick

T0 = 1_700_000_000.0


def test_command_lines_become_entities_and_bad_lines_are_warnings() -> None:
    text = textwrap.dedent("""\
        {"id": "T-1", "state": "open", "changed_at": 1700000000, "owner": "ana"}
        {"id": 2, "state": "review", "changed_at": "2023-11-14T22:13:20Z", "activity_at": "2023-11-14T22:20:00+00:00"}
        not json
        {"id": "T-3", "state": "open"}
        {"id": "", "state": "open", "changed_at": 1}

        {"id": "T-4", "state": "open", "changed_at": "2023-11-14 22:13:20"}
    """)
    entities, problems = user.parse_lines(text)
    assert [e.id for e in entities] == ["T-1", "2", "T-4"]
    assert entities[0].inputs == {"owner": "ana"} and entities[0].changed_at == T0
    assert entities[1].changed_at == T0 and entities[1].activity_at == T0 + 400
    assert entities[2].changed_at == T0  # a time without an offset is UTC
    assert [p.split(":")[0] for p in problems] == ["line 3", "line 4", "line 5"]


def test_an_entry_point_factory_may_return_a_drain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mywatch.py").write_text(textwrap.dedent("""\
        def factory(ctx):
            def drain(now):
                return [{"id": "x", "state": "stuck", "changed_at": now - 100}, {"id": "y"}]
            return drain
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    ctx = WatcherContext(SimpleNamespace(root=tmp_path), SimpleNamespace(name="mine", watcher="mywatch:factory"), tmp_path)
    w = user.entry_point_watcher(ctx)
    report = flag_tick(w, DecisionLedger(tmp_path), host="mine", now=T0, window=60)
    assert [(d.entity_id, d.context, d.choice) for d in report.new] == [("x", user.CONTEXT, user.CHOICE)]
    assert len(report.notes) == 1 and "state" in report.notes[0]
    with pytest.raises(ImportError, match="nosuch"):
        user.entry_point_watcher(WatcherContext(ctx.config, SimpleNamespace(name="m", watcher="nosuch:f"), tmp_path))
