"""`[notify]`: events that need a person go to a command (JSON on stdin) and/or an HTTP POST, from a
background thread, rate-limited, retried a bounded number of times, failures logged as events.

Real receivers: an `http.server` on 127.0.0.1 in a thread and a small script writing its stdin to a
file. Every wait is on a condition (the receiver got it, the notifier is idle), never a sleep.
"""

from __future__ import annotations

import json
import socket as socketlib
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent_orchestrator.config import ConfigError, load_config
from agent_orchestrator.config.schema import Config
from agent_orchestrator.watchdog.events import EventLog, read_events
from tests.support.tmux import wait_until


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps every POSTed JSON body; `gate` (when set up)
    holds each request until the test opens it."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.entered = threading.Event()
        self.gate: threading.Event | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server calls it by this name
                receiver.entered.set()
                if receiver.gate is not None:
                    receiver.gate.wait(30)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.bodies.append(json.loads(body))
                receiver.headers.append(dict(self.headers))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/topic"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        if self.gate is not None:
            self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 nobody listens on."""
    with socketlib.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/nobody"


def write_script(folder: Path) -> Path:
    """notify.py: appends its stdin (one JSON event) as a line to received.jsonl beside it."""
    script = folder / "notify.py"
    script.write_text(textwrap.dedent("""
        import sys
        from pathlib import Path
        with open(Path(__file__).with_name("received.jsonl"), "a") as fh:
            fh.write(sys.stdin.read().strip() + "\\n")
    """))
    return script


def config_with(folder: Path, notify: str) -> Config:
    path = folder / "agents.toml"
    path.write_text(textwrap.dedent("""
        [defaults]
        session_prefix = "n-"
        log_dir = "run"
        backend = "demo"

        [[agent]]
        name = "alice"

    """) + textwrap.dedent(notify))
    return load_config(path)


def received(folder: Path) -> list[dict]:
    path = folder / "received.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def notifier_of(log: EventLog):
    return log.listeners[-1].__self__


def test_an_event_goes_to_the_command_and_the_url_as_json(tmp_path: Path, receiver: Receiver) -> None:
    script = write_script(tmp_path)
    config = config_with(tmp_path, f"""
        [notify]
        cmd = ["{sys.executable}", "{script.name}"]
        url = "{receiver.url}"
    """)
    log = EventLog(tmp_path / "run")
    log.notify_with(lambda: config)
    log.emit("alice", "needs-human", "5 restarts in 600s", 1000.0, restarts=5)
    log.emit("alice", "stall", "not a kind that notifies", 1001.0)
    assert wait_until(lambda: notifier_of(log).idle() and len(receiver.bodies) == 1 and len(received(tmp_path)) == 1)
    for payload in (receiver.bodies[0], received(tmp_path)[0]):
        assert payload == {**payload, "agent": "alice", "action": "needs-human", "kind": "needs-human", "reason": "5 restarts in 600s",
                           "restarts": 5, "project": str(config.path), "session_prefix": "n-", "suppressed": 0,
                           "time": "1970-01-01T00:16:40Z"}
    assert receiver.headers[0]["Content-Type"] == "application/json" and receiver.headers[0]["Title"] == "agents: needs-human alice"
    sent = [e for e in read_events(tmp_path / "run") if e["action"] == "notify-sent"]
    assert sorted(e["channel"] for e in sent) == ["cmd", "url"]


def test_rate_limited_per_kind_and_agent_with_a_count_of_what_was_held_back(tmp_path: Path, receiver: Receiver) -> None:
    config = config_with(tmp_path, f"""
        [notify]
        url = "{receiver.url}"
        min_interval = 60
    """)
    log = EventLog(tmp_path / "run")
    log.notify_with(lambda: config)
    log.emit("alice", "needs-input", "a dialog", 1000.0)
    log.emit("alice", "needs-input", "again", 1010.0)      # held back
    log.emit("alice", "needs-input", "and again", 1050.0)  # held back
    log.emit("bob", "needs-input", "another agent", 1011.0)
    log.emit("alice", "usage-limit", "another kind", 1012.0)
    log.emit("alice", "needs-input", "a minute later", 1061.0)
    assert wait_until(lambda: notifier_of(log).idle() and len(receiver.bodies) == 4)
    assert [(b["agent"], b["kind"], b["reason"], b["suppressed"]) for b in receiver.bodies] == [
        ("alice", "needs-input", "a dialog", 0), ("bob", "needs-input", "another agent", 0),
        ("alice", "usage-limit", "another kind", 0), ("alice", "needs-input", "a minute later", 2)]


def test_a_failing_receiver_is_retried_a_bounded_number_of_times_and_logged(tmp_path: Path) -> None:
    script = write_script(tmp_path)
    config = config_with(tmp_path, f"""
        [notify]
        cmd = ["{sys.executable}", "{script.name}"]
        url = "{closed_port_url()}"
        retries = 3
        retry_delay = 0.01
    """)
    log = EventLog(tmp_path / "run")
    log.notify_with(lambda: config)
    log.emit("", "sequence-complete", "all phases done", 1000.0)
    assert wait_until(lambda: notifier_of(log).idle() and any("giving up" in e["reason"] for e in read_events(tmp_path / "run")))
    events = [e for e in read_events(tmp_path / "run") if e["action"].startswith("notify-")]
    failed = [e for e in events if e["action"] == "notify-failed"]
    assert [(e["channel"], e["attempt"], e["attempts"]) for e in failed] == [("url", 1, 3), ("url", 2, 3), ("url", 3, 3)]
    assert "retry in 0.01s" in failed[0]["reason"] and failed[-1]["reason"].endswith("giving up")
    # the command took it at once and is not run again for the url's retries
    assert [e["channel"] for e in events if e["action"] == "notify-sent"] == ["cmd"]
    assert len(received(tmp_path)) == 1


def test_a_failing_command_is_an_event_naming_its_exit(tmp_path: Path) -> None:
    (tmp_path / "fail.py").write_text("import sys; sys.stderr.write('no route to the pager\\n'); sys.exit(3)")
    config = config_with(tmp_path, f"""
        [notify]
        cmd = ["{sys.executable}", "fail.py"]
        retries = 1
    """)
    log = EventLog(tmp_path / "run")
    log.notify_with(lambda: config)
    log.emit("alice", "needs-human", "x", 1000.0)
    assert wait_until(lambda: notifier_of(log).idle() and any(e["action"] == "notify-failed" for e in read_events(tmp_path / "run")))
    failed = next(e for e in read_events(tmp_path / "run") if e["action"] == "notify-failed")
    assert failed["reason"] == f"needs-human via cmd: {sys.executable!r} exited 3: no route to the pager; giving up"


def test_emit_never_waits_for_a_slow_receiver(tmp_path: Path, receiver: Receiver) -> None:
    receiver.gate = threading.Event()  # the receiver holds every request until the test opens it
    config = config_with(tmp_path, f"""
        [notify]
        url = "{receiver.url}"
    """)
    log = EventLog(tmp_path / "run")
    log.notify_with(lambda: config)
    log.emit("alice", "needs-human", "first", 1000.0)
    assert receiver.entered.wait(30)  # the POST is in flight, held by the receiver ...
    log.emit("bob", "needs-human", "second", 1001.0)  # ... and emitting (the tick) goes on meanwhile
    assert not notifier_of(log).idle() and receiver.bodies == []
    assert [e["agent"] for e in read_events(tmp_path / "run") if e["action"] == "needs-human"] == ["alice", "bob"]
    receiver.gate.set()
    assert wait_until(lambda: notifier_of(log).idle() and len(receiver.bodies) == 2)


def test_without_a_notify_table_nothing_is_sent_and_no_thread_starts(tmp_path: Path) -> None:
    config = config_with(tmp_path, "")
    log = EventLog(tmp_path / "run")
    log.notify_with(lambda: config)
    log.emit("alice", "needs-human", "x", 1000.0)
    assert notifier_of(log)._thread is None


@pytest.mark.parametrize(("table", "line"), [
    ('on = ["needs-humans"]\nurl = "https://ntfy.sh/t"',
     'notify.on[0]: "needs-humans" is not an event kind that notifies (kinds: needs-human, needs-input, usage-limit, phase-advance, '
     'sequence-complete, budget, usage-limit-over, config-invalid, tick-error, delivery-failed, truth-conflict, run-escalated, flag, '
     'host-unreachable, host-reachable); '
     'did you mean "needs-human"?'),
    ('url = "ntfy.sh/t"', 'notify.url: "ntfy.sh/t" is not an http:// or https:// URL'),
    ("min_interval = 5", "notify: give cmd (an argv list, e.g. [\"./notify.sh\"]) or url (e.g. \"https://ntfy.sh/my-topic\"), or both"),
    ('cmd = "notify-send hi"', 'notify.cmd: expected a list of strings, got "notify-send hi"'),
    ('url = "https://x"\nretrys = 2', 'notify.retrys: unknown key; did you mean "retries"?'),
])
def test_notify_table_errors_are_one_line_each(tmp_path: Path, table: str, line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_with(tmp_path, "[notify]\n" + table + "\n")
    assert caught.value.lines == [f"{tmp_path / 'agents.toml'}: {line}"]


def test_the_watchdog_notifies_through_its_event_log(tmp_path: Path, receiver: Receiver) -> None:
    """The one line in Watchdog.__init__: an edit that breaks agents.toml is a config-invalid event,
    which the [notify] of the config in force sends."""
    from agent_orchestrator.watchdog.driver import Watchdog
    from tests.support.fake_runtime import Clock, FakeRuntime

    config = config_with(tmp_path, f"""
        [notify]
        url = "{receiver.url}"
        on = ["config-invalid", "needs-human"]
    """)
    dog = Watchdog(config.path, runtime=FakeRuntime(Clock()))
    config.path.write_text(config.path.read_text().replace('name = "alice"', 'name = "alice"\nwach = "heal"'))
    dog.reload()
    assert wait_until(lambda: len(receiver.bodies) == 1)
    assert receiver.bodies[0]["kind"] == "config-invalid" and "agent[0].wach: unknown key" in receiver.bodies[0]["reason"]
