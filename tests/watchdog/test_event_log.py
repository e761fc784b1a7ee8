"""The event log (`watchdog/events.py`): a line torn by a writer killed mid-line stays alone —
readers skip it — and never swallows the next event."""

from __future__ import annotations

from pathlib import Path

from agent_orchestrator.watchdog.events import EventLog, read_events


def test_a_torn_last_line_does_not_swallow_the_next_event(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    log.emit("", "first", "before the kill", 1.0)
    with (tmp_path / "events.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"ts": 2.0, "agent": "builder", "action": "pi')  # the watchdog died mid-line
    with (tmp_path / "watchdog.log").open("a", encoding="utf-8") as fh:
        fh.write("1970-01-01T00:00:02Z builder pi")
    log.emit("builder", "ping", "after the restart", 3.0)
    assert [(e["action"], e["reason"]) for e in read_events(tmp_path)] == [("first", "before the kill"), ("ping", "after the restart")]
    human = (tmp_path / "watchdog.log").read_text(encoding="utf-8").splitlines()
    assert human[-1] == "1970-01-01T00:00:03Z builder ping: after the restart"


def test_events_on_a_whole_last_line_get_no_blank_line(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    for n in range(3):
        log.emit("", f"e{n}", "fine", float(n))
    assert (tmp_path / "events.jsonl").read_text(encoding="utf-8").count("\n") == 3
    assert [e["action"] for e in read_events(tmp_path)] == ["e0", "e1", "e2"]
