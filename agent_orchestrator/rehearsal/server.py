"""The scripted model server: HTTP on 127.0.0.1 speaking the Anthropic Messages API (Claude Code)
and the OpenAI Responses API (Codex CLI), answering from a playbook.

Endpoints: ``HEAD /`` and ``GET /`` (200); ``POST /v1/messages`` (``?beta=true`` or not; SSE when
``stream: true``, else JSON); ``POST /v1/messages/count_tokens``; ``POST /v1/responses`` (SSE);
``GET /_journal`` (recent journal entries as a JSON list). Anything else: 404 JSON error.

Use ``start_server`` from tests and the orchestrator; ``python -m agent_orchestrator.rehearsal``
from a shell.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any
from urllib.parse import urlsplit

from . import anthropic, openai
from .playbook import Answer, Exchange, Playbook, PlaybookError, choose, load_playbook
from .wire import Event

_JOURNAL_KEEP = 1000  # entries kept in memory for GET /_journal and journal_entries()
_EXCERPT = 120  # characters of the prompt kept in a journal entry


class Rehearsal:
    """Thread-safe state behind one server: the playbook (re-read when the file changes), use
    counts per rule key, and the journal."""

    def __init__(self, playbook: Path, journal: Path | None = None) -> None:
        self.path = playbook
        self.journal_path = journal
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._used: dict[str, int] = {}
        self._entries: deque[dict[str, Any]] = deque(maxlen=_JOURNAL_KEEP)
        self._signature = self._stat()
        self.playbook: Playbook = load_playbook(playbook)  # errors surface at start

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        # Size and inode too: an editor's atomic replace within one mtime tick still shows.
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _reload_if_changed(self) -> None:
        signature = self._stat()
        if signature is None or signature == self._signature:
            return
        self._signature = signature
        try:
            fresh = load_playbook(self.path)
        except (PlaybookError, OSError) as exc:
            # A half-written or broken edit must not take the rehearsal down: keep the last
            # good playbook and say so.
            print(f"rehearsal: keeping the previous playbook: {exc}", file=sys.stderr, flush=True)
            self._append({"ts": round(time.time(), 3), "kind": "playbook_error",
                          "error": str(exc)})
            return
        # Rule.key is the id, else the position: counts follow the rule across the reload.
        self._used = {r.key: self._used[r.key] for r in fresh.rules if r.key in self._used}
        self.playbook = fresh

    def answer(self, exchange: Exchange) -> Answer:
        """Choose the answer for one request and count the use, atomically."""
        with self._lock:
            self._reload_if_changed()
            chosen = choose(self.playbook, exchange, self._used)
            if chosen.consumes and chosen.rule is not None:
                self._used[chosen.rule.key] = self._used.get(chosen.rule.key, 0) + 1
            return chosen

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._append(entry)

    def _append(self, entry: dict[str, Any]) -> None:
        self._entries.append(entry)
        if self.journal_path is not None:
            with self.journal_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, rehearsal: Rehearsal) -> None:
        self.rehearsal = rehearsal
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.connections_lock:
                self.connections.discard(request)

    def drop_connections(self) -> None:
        """Close every client connection: keep-alive idlers and scripted hangs end with the
        server instead of outliving it."""
        with self.connections_lock:
            for conn in list(self.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked SSE like the real APIs
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the journal is the log

    # -- plumbing -------------------------------------------------------------------------

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None,
                   raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_rehearsal_{int(time.time() * 1000)}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_events(self, events: list[Event], stopping: threading.Event) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event in events:
            if event.pause and stopping.wait(event.pause):
                self.close_connection = True
                return
            data = event.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _read_json(self) -> dict[str, Any] | None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    # -- verbs ----------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/":
            self._send_json(200, {"status": "ok", "server": "agent-orchestrator rehearsal"})
        elif path == "/_journal":
            self._send_json(200, self.server.rehearsal.entries())
        else:
            self._not_found(path)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        routes: dict[str, Callable[[dict[str, Any], str], None]] = {
            "/v1/messages": self._messages,
            "/v1/messages/count_tokens": self._count_tokens,
            "/v1/responses": self._responses,
        }
        route = routes.get(path)
        if route is None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self._not_found(path)
            return
        body = self._read_json()
        if body is None:
            error = (openai if path == "/v1/responses" else anthropic).error_body(
                400, "request body is not a JSON object")
            self._journal(path, "bad_request", 400)
            self._send_json(400, error)
            return
        route(body, path)

    def _not_found(self, path: str) -> None:
        self._journal(path, "not_found", 404)
        self._send_json(404, {"type": "error", "error": {
            "type": "not_found_error", "message": f"rehearsal: no endpoint {path}"}})

    def _count_tokens(self, body: dict[str, Any], path: str) -> None:
        self._journal(path, "count_tokens", 200, model=body.get("model"))
        self._send_json(200, anthropic.count_tokens(body))

    def _messages(self, body: dict[str, Any], path: str) -> None:
        self._model_turn(body, path, anthropic.exchange(body), anthropic)

    def _responses(self, body: dict[str, Any], path: str) -> None:
        self._model_turn(body, path, openai.exchange(body), openai)

    def _model_turn(self, body: dict[str, Any], path: str, exchange: Exchange,
                    api: ModuleType) -> None:
        """Answer one model request; ``api`` is the wire module (``anthropic`` or ``openai``:
        both have ``events``, ``reply`` and ``error_body``)."""
        rehearsal = self.server.rehearsal
        answer = rehearsal.answer(exchange)
        rule = answer.rule
        entry: dict[str, Any] = {
            "api": exchange.api, "model": exchange.model,
            "rule": rule.label if rule else None, "rule_index": rule.index if rule else None,
            "matched": rule is not None, "step": answer.step, "command": answer.command,
            "tool_results": len(exchange.tool_results),
            "last_user": exchange.prompt[:_EXCERPT],
        }
        if answer.delay:
            entry["delay"] = answer.delay
        fault = answer.error
        # Journal on arrival, before any delay and before replying: whoever reads the reply (or
        # watches a scripted hang) may look at the journal next.
        self._journal(path, answer.kind, fault.status if fault else 200, **entry)
        if answer.delay and rehearsal.stopping.wait(answer.delay):
            self.close_connection = True
            self._journal(path, "disconnected", 0, rule=entry["rule"], step=entry["step"])
            return
        try:
            if fault is not None:
                raw = fault.body.encode() if fault.body is not None else None
                self._send_json(fault.status, api.error_body(fault.status), dict(fault.headers),
                                raw=raw)
            elif body.get("stream"):
                self._send_events(api.events(answer, body), rehearsal.stopping)
            else:
                self._send_json(200, api.reply(answer, body))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            self._journal(path, "disconnected", 0, rule=entry["rule"], step=entry["step"])

    def _journal(self, path: str, kind: str, status: int, **fields: Any) -> None:
        self.server.rehearsal.record(
            {"ts": round(time.time(), 3), "path": path, "kind": kind, "status": status,
             **fields})


class RunningServer:
    """A rehearsal server running in a background thread. ``port``/``url`` say where; use as a
    context manager or call ``stop()``."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.port: int = server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def rehearsal(self) -> Rehearsal:
        return self._server.rehearsal

    def journal_entries(self) -> list[dict[str, Any]]:
        """Recent journal entries, oldest first: dicts with ``ts`` (epoch seconds), ``path``,
        ``kind`` (text|tool|error|side|unmatched|count_tokens|not_found|bad_request|
        disconnected|playbook_error), ``status`` (0 = no reply sent), and for
        model requests ``api``, ``model``, ``rule``, ``rule_index``, ``matched``, ``step``,
        ``command``, ``tool_results``, ``last_user``."""
        return self._server.rehearsal.entries()

    def stop(self) -> None:
        """Stop serving and close client connections; waits for the serving thread."""
        self._server.rehearsal.stopping.set()
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_server(playbook: Path, port: int = 0, journal: Path | None = None) -> RunningServer:
    """Serve ``playbook`` on 127.0.0.1:``port`` (0 = a free port) in a daemon thread; append one
    JSON line per request to ``journal`` if given. Raises ``PlaybookError`` for a bad playbook,
    ``OSError`` if the port is taken."""
    server = _Server(port, Rehearsal(Path(playbook), journal))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name=f"rehearsal-{server.server_address[1]}", daemon=True)
    thread.start()
    return RunningServer(server, thread)
