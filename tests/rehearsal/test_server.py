"""The scripted model server over real HTTP, and real agent CLIs (Claude Code, Codex) against it."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_orchestrator.rehearsal import PlaybookError, RunningServer, load_playbook, start_server
from agent_orchestrator.rehearsal import anthropic as anthropic_wire
from agent_orchestrator.rehearsal.wire import chunks

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
# What Claude Code 2.1.197 puts before the prompt in the first user message.
REMINDER = ("<system-reminder>\nAs you answer the user's questions, you can use the following "
            "context:\n# claudeMd\nsay hello to every visitor\n</system-reminder>\n\n")


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with start_server(PLAYBOOKS / "basic.toml", journal=tmp_path / "journal.jsonl") as running:
        yield running


def post(server: RunningServer, path: str, body: dict[str, Any]) -> tuple[int, Any, bytes]:
    """POST JSON; returns (status, headers, raw body) for success and HTTP errors alike."""
    request = urllib.request.Request(server.url + path, data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def sse(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """Parse an SSE body into (event name, data) pairs; checks name and data.type agree."""
    events = []
    for frame in raw.decode().strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in frame.splitlines())
        data = json.loads(fields["data"])
        assert data["type"] == fields["event"]
        events.append((fields["event"], data))
    return events


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": REMINDER},
                                        {"type": "text", "text": text}]}


def claude(messages: list[dict[str, Any]], *, tools: tuple[str, ...] = ("Bash", "Read", "Edit"),
           stream: bool = True, **extra: Any) -> dict[str, Any]:
    return {"model": "claude-opus-4-8", "max_tokens": 64000, "stream": stream,
            "system": [{"type": "text", "text": "You are Claude Code."}],
            "tools": [{"name": t, "input_schema": {"type": "object"}} for t in tools],
            "messages": messages, **extra}


def streamed(server: RunningServer, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    status, headers, raw = post(server, "/v1/messages?beta=true", body)
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    return sse(raw)


def text_of(events: list[tuple[str, dict[str, Any]]]) -> str:
    return "".join(d["delta"]["text"] for n, d in events
                   if n == "content_block_delta" and d["delta"]["type"] == "text_delta")


def tool_use_of(events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Rebuild the tool_use block the way the SDK does: start block + joined input_json_delta."""
    start = next(d["content_block"] for n, d in events
                 if n == "content_block_start" and d["content_block"]["type"] == "tool_use")
    partial = "".join(d["delta"]["partial_json"] for n, d in events
                      if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta")
    return {**start, "input": json.loads(partial)}


def turn_after(events: list[tuple[str, dict[str, Any]]], output: str) -> list[dict[str, Any]]:
    """The assistant message for ``events`` and the user message carrying its tool result."""
    block = tool_use_of(events)
    return [{"role": "assistant", "content": [block]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block["id"],
                                          "content": output, "is_error": False}]}]


# -- plain endpoints ------------------------------------------------------------------------


def test_head_and_get_root_answer_200(server: RunningServer) -> None:
    for method in ("HEAD", "GET"):
        request = urllib.request.Request(server.url + "/", method=method)
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200


def test_unknown_path_is_a_404_json_error(server: RunningServer) -> None:
    status, _, raw = post(server, "/v1/complete", {"prompt": "x"})
    assert status == 404
    assert json.loads(raw)["error"]["type"] == "not_found_error"
    assert server.journal_entries()[-1]["kind"] == "not_found"


def test_count_tokens_grows_with_the_payload(server: RunningServer) -> None:
    small = json.loads(post(server, "/v1/messages/count_tokens", claude([user("hi")]))[2])
    big = json.loads(post(server, "/v1/messages/count_tokens", claude([user("hi " * 4000)]))[2])
    assert set(small) == {"input_tokens"}
    assert 0 < small["input_tokens"] < big["input_tokens"]


# -- Anthropic Messages ---------------------------------------------------------------------


def test_non_streaming_reply_is_one_message_with_the_rules_usage(server: RunningServer) -> None:
    status, _, raw = post(server, "/v1/messages", claude([user("please say hello")], stream=False))
    reply = json.loads(raw)
    assert status == 200
    assert reply["type"] == "message" and reply["role"] == "assistant"
    assert reply["content"] == [{"type": "text", "text":
                                 "Hello from the playbook, streamed in several small pieces."}]
    assert reply["stop_reason"] == "end_turn"
    assert reply["usage"]["input_tokens"] == 7
    assert reply["usage"]["output_tokens"] == 21
    assert reply["usage"]["cache_read_input_tokens"] == 3000
    assert reply["usage"]["cache_creation_input_tokens"] == 500


def test_streamed_text_follows_the_real_event_order(server: RunningServer) -> None:
    events = streamed(server, claude([user("say hello")]))
    names = [n for n, _ in events]
    deltas = names.count("content_block_delta")
    assert deltas > 1  # really streamed in pieces
    assert names == (["message_start", "content_block_start", "ping"]
                     + ["content_block_delta"] * deltas
                     + ["content_block_stop", "message_delta", "message_stop"])
    start = events[0][1]["message"]
    assert start["id"].startswith("msg_") and start["usage"]["input_tokens"] == 7
    assert text_of(events) == "Hello from the playbook, streamed in several small pieces."
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] == 21


def test_system_reminders_are_not_part_of_the_prompt(server: RunningServer) -> None:
    # The reminder says "say hello" (a CLAUDE.md line); the prompt itself does not.
    events = streamed(server, claude([user("what time is it")]))
    assert text_of(events) == "Nothing scripted for that."
    entry = server.journal_entries()[-1]
    assert entry["kind"] == "unmatched" and entry["matched"] is False
    assert entry["last_user"] == "what time is it"


def test_steps_advance_one_tool_call_per_response(server: RunningServer) -> None:
    history = [user("make the file")]
    first = streamed(server, claude(history))
    call = tool_use_of(first)
    assert [n for n, _ in first][:4] == ["message_start", "content_block_start", "ping",
                                         "content_block_delta"]
    assert text_of(first) == "Creating it."
    assert call["name"] == "Bash" and call["id"].startswith("toolu_")
    assert call["input"] == {"command": "echo hi > made.txt", "description": "Create made.txt"}
    assert first[-2][1]["delta"]["stop_reason"] == "tool_use"

    history += turn_after(first, "")
    second = streamed(server, claude(history))
    call2 = tool_use_of(second)
    assert call2["input"]["command"] == "git add -A && git commit -qm 'claim(D1)'"
    assert call2["id"] != call["id"]

    history += turn_after(second, "")
    third = streamed(server, claude(history))
    assert text_of(third) == "Made the file and committed it."
    assert third[-2][1]["delta"]["stop_reason"] == "end_turn"
    assert [(e["step"], e["kind"]) for e in server.journal_entries()] == [
        (0, "tool"), (1, "tool"), (2, "text")]

    # A new prompt is a new turn: the tool results above no longer count.
    history += [{"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
                user("make the file again")]
    assert tool_use_of(streamed(server, claude(history)))["input"]["command"] == \
        "echo hi > made.txt"


def test_a_step_rule_needs_the_shell_tool_offered(server: RunningServer) -> None:
    events = streamed(server, claude([user("run the tests")], tools=("Read",)))
    assert text_of(events) == "Nothing scripted for that."


def test_tool_result_matches_only_the_current_turn(server: RunningServer) -> None:
    history = [user("run the tests")]
    first = streamed(server, claude(history))
    assert tool_use_of(first)["input"]["command"] == "pytest -q"
    failed = history + turn_after(first, "3 FAILED, 10 passed")
    assert text_of(streamed(server, claude(failed))) == "The tests failed; I will look."
    passed = history + turn_after(first, "13 passed")
    assert text_of(streamed(server, claude(passed))) == "Tests ran."
    # The FAILED result belongs to an earlier turn now.
    later = [*failed, {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}, user("run the tests again")]
    assert tool_use_of(streamed(server, claude(later)))["input"]["command"] == "pytest -q"


def test_exhausted_rule_falls_through_to_the_next(server: RunningServer) -> None:
    answers = [text_of(streamed(server, claude([user("count")]))) for _ in range(3)]
    assert answers == ["first", "second", "second"]
    assert [e["rule"] for e in server.journal_entries()] == [
        "first-only", "then-always", "then-always"]


def test_scripted_429_carries_retry_after_then_recovers(server: RunningServer) -> None:
    status, headers, raw = post(server, "/v1/messages?beta=true", claude([user("hit the limit")]))
    assert status == 429
    assert headers["retry-after"] == "20"
    assert json.loads(raw)["error"]["type"] == "rate_limit_error"
    assert text_of(streamed(server, claude([user("hit the limit")]))) == "Back after the limit."


def test_delay_and_stream_delay_pace_the_reply(server: RunningServer) -> None:
    started = time.monotonic()
    events = streamed(server, claude([user("take your time")]))
    assert time.monotonic() - started >= 0.3 + 0.05 * 2
    assert text_of(events).startswith("one two")


def test_stop_ends_a_scripted_hang_at_once(tmp_path: Path) -> None:
    outcome: list[BaseException | int] = []
    with start_server(PLAYBOOKS / "basic.toml") as server:
        def call() -> None:
            try:
                outcome.append(post(server, "/v1/messages", claude([user("hang forever")]))[0])
            except (OSError, http.client.HTTPException) as exc:
                outcome.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        deadline = time.monotonic() + 30
        while not server.journal_entries() and time.monotonic() < deadline:
            time.sleep(0.01)  # the request is in, waiting out its 30 s delay
        started = time.monotonic()
    caller.join(timeout=30)
    assert not caller.is_alive()
    assert time.monotonic() - started < 25  # well before the scripted 30 s: stop ended the hang (a loaded machine is slow, not 25 s slow)
    assert len(outcome) == 1 and not isinstance(outcome[0], int)  # no reply, a dropped line
    assert [(e["kind"], e["rule"]) for e in server.journal_entries()] == [
        ("text", "hang"), ("disconnected", "hang")]
    assert server.journal_entries()[0]["delay"] == 30


def test_tool_less_side_requests_get_a_short_reply(server: RunningServer) -> None:
    # Claude Code's title request: no tools, the prompt inside <session>, a JSON schema.
    schema = {"type": "object", "properties": {"title": {"type": "string"}},
              "required": ["title"], "additionalProperties": False}
    title = claude([user("<session>\nmake the file\n</session>")], tools=(),
                   output_config={"format": {"type": "json_schema", "schema": schema}})
    assert json.loads(text_of(streamed(server, title))) == {"title": "Session"}
    plain = claude([user("make the file")], tools=())
    assert text_of(streamed(server, plain)) == "Session"
    special = claude([user("a special title please")], tools=())
    assert text_of(streamed(server, special)) == "A scripted title"
    assert [e["kind"] for e in server.journal_entries()] == ["side", "side", "text"]


# -- OpenAI Responses (Codex) ---------------------------------------------------------------


def codex(items: list[dict[str, Any]]) -> dict[str, Any]:
    env = {"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "<environment_context>\n  <cwd>/r</cwd>\n"
                                       "</environment_context>"}]}
    return {"model": "gpt-5-codex", "stream": True, "tool_choice": "auto",
            "tools": [{"type": "function", "name": "exec_command", "parameters": {}},
                      {"type": "function", "name": "write_stdin", "parameters": {}}],
            "input": [env, *items]}


def codex_prompt(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def test_responses_stream_runs_exec_command_then_answers(server: RunningServer) -> None:
    prompt = [codex_prompt("make the file")]
    status, headers, raw = post(server, "/v1/responses", codex(prompt))
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = sse(raw)
    names = [n for n, _ in events]
    assert names[:2] == ["response.created", "response.in_progress"]
    assert names[-1] == "response.completed"
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    done = [d["item"] for n, d in events if n == "response.output_item.done"]
    assert [i["type"] for i in done] == ["message", "function_call"]
    assert done[0]["content"][0]["text"] == "Creating it."
    call = done[1]
    assert call["name"] == "exec_command" and call["call_id"].startswith("call_")
    assert json.loads(call["arguments"]) == {"cmd": "echo hi > made.txt"}
    added = [d["item"]["type"] for n, d in events if n == "response.output_item.added"]
    assert added == ["message", "function_call"]
    args = "".join(d["delta"] for n, d in events
                   if n == "response.function_call_arguments.delta")
    assert args == call["arguments"]
    usage = events[-1][1]["response"]["usage"]
    assert usage["input_tokens"] == 12 + 11800 + 1450  # OpenAI counts cached input inside
    assert usage["input_tokens_details"]["cached_tokens"] == 11800
    assert usage["output_tokens"] == 85
    assert usage["total_tokens"] == usage["input_tokens"] + 85

    def after(call: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"type": "function_call", "name": "exec_command", "arguments": call["arguments"],
                 "call_id": call["call_id"]},
                {"type": "function_call_output", "call_id": call["call_id"], "output": "ok"}]

    second = sse(post(server, "/v1/responses", codex(prompt + after(call)))[2])
    call2 = [d["item"] for n, d in second if n == "response.output_item.done"][-1]
    assert json.loads(call2["arguments"])["cmd"].startswith("git add -A")
    third = sse(post(server, "/v1/responses", codex(prompt + after(call) + after(call2)))[2])
    text = "".join(d["delta"] for n, d in third if n == "response.output_text.delta")
    assert text == "Made the file and committed it."
    assert [d["item"]["type"] for n, d in third if n == "response.output_item.done"] == ["message"]


def test_api_and_model_fields_select_rules(server: RunningServer) -> None:
    events = sse(post(server, "/v1/responses", codex([codex_prompt("codex please")]))[2])
    assert "".join(d["delta"] for n, d in events
                   if n == "response.output_text.delta") == "Hello Codex."
    assert text_of(streamed(server, claude([user("codex please")]))) == \
        "Nothing scripted for that."


# -- journal, reload, CLI, validation -------------------------------------------------------


def test_journal_file_and_endpoint_agree(server: RunningServer, tmp_path: Path) -> None:
    streamed(server, claude([user("say hello")]))
    streamed(server, claude([user("nothing here")]))
    lines = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    with urllib.request.urlopen(server.url + "/_journal", timeout=5) as response:
        assert json.loads(response.read()) == lines == server.journal_entries()
    assert [(e["rule"], e["rule_index"], e["status"]) for e in lines] == [
        ("hello", 0, 200), (None, None, 200)]
    assert {"ts", "path", "model", "last_user", "step"} <= set(lines[0])


def test_playbook_edits_apply_and_use_counts_survive(tmp_path: Path) -> None:
    book = tmp_path / "book.toml"
    book.write_text('[[rule]]\nid = "once"\nlast_user = "go"\nuses = 1\ntext = "v1"\n'
                    '[[rule]]\nlast_user = "go"\ntext = "fallback"\n')
    with start_server(book) as server:
        assert text_of(streamed(server, claude([user("go")]))) == "v1"
        book.write_text('[[rule]]\nid = "new"\nlast_user = "go"\nuses = 1\ntext = "v2"\n'
                        '[[rule]]\nid = "once"\nlast_user = "go"\nuses = 1\ntext = "v1 again"\n'
                        '[[rule]]\nlast_user = "go"\ntext = "fallback"\n')
        os.utime(book, ns=(time.time_ns(), time.time_ns() + 1_000_000))
        answers = [text_of(streamed(server, claude([user("go")]))) for _ in range(2)]
        assert answers == ["v2", "fallback"]  # "once" stays used up across the reload
        book.write_text("[[rule]\nbroken")
        os.utime(book, ns=(time.time_ns(), time.time_ns() + 2_000_000))
        assert text_of(streamed(server, claude([user("go")]))) == "fallback"
        assert any(e["kind"] == "playbook_error" for e in server.journal_entries())


def test_cli_serve_prints_its_port_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_orchestrator.rehearsal", "serve", "--playbook",
         str(PLAYBOOKS / "basic.toml"), "--port", "0", "--journal", str(tmp_path / "j.jsonl")],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        with urllib.request.urlopen(line.split(" on ", 1)[1] + "/", timeout=5) as response:
            assert response.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


@pytest.mark.parametrize(("text", "message"), [
    ('[[rule]]\nlast_usr = "x"\n', "last_usr: unknown key (did you mean 'last_user'?)"),
    ('[[rule]]\nsteps = [{bash = "x"}]\nhas_tool_result = false\n', "after its first step"),
    ('[[rule]]\nerror = {status = 200}\n', "expected an HTTP error status"),
    ('[[rule]]\nuses = 0\n', "uses: expected an integer >= 1"),
    ('[[rule]]\nlast_user_re = "("\n', "last_user_re: bad regex"),
])
def test_bad_playbooks_are_refused_with_the_key_path(tmp_path: Path, text: str,
                                                     message: str) -> None:
    book = tmp_path / "bad.toml"
    book.write_text(text)
    with pytest.raises(PlaybookError, match="rule\\[0\\]") as err:
        load_playbook(book)
    assert message in str(err.value) and str(book) in str(err.value)


def test_tool_results_with_reminders_stay_in_the_turn() -> None:
    # Claude Code may append <system-reminder> text next to tool results: not a new prompt.
    body = claude([user("run the tests"),
                   {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1",
                                                      "name": "Bash",
                                                      "input": {"command": "pytest -q"}}]},
                   {"role": "user", "content": [
                       {"type": "tool_result", "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "1 FAILED"}]},
                       {"type": "text", "text": "<system-reminder>todo list</system-reminder>"}]},
                   {"role": "user", "content": "<system-reminder>nudge</system-reminder>"}])
    ex = anthropic_wire.exchange(body)
    assert ex.prompt == "run the tests"
    assert [(r.command, r.text) for r in ex.tool_results] == [("pytest -q", "1 FAILED")]


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_chunks_rejoin_to_the_text(text: str) -> None:
    pieces = chunks(text)
    assert "".join(pieces) == text
    assert all(pieces)


# -- end to end: the real CLIs --------------------------------------------------------------


def ensure_cli(script: str, name: str) -> str:
    """The real CLI at its selected pin (this module's `claude`/`codex` names are request builders,
    so the conftest fixtures of those names are not used here)."""
    from tests.support.clis import pinned_cli

    return pinned_cli(name)


def git_repo(path: Path) -> Path:
    path.mkdir()
    for args in (["init", "-q"], ["config", "user.email", "rehearsal@example.com"],
                 ["config", "user.name", "Rehearsal"], ["commit", "-q", "--allow-empty", "-m",
                                                        "init"]):
        subprocess.run(["git", *args], cwd=path, check=True)
    return path


def assert_made_and_committed(repo: Path) -> None:
    assert (repo / "made.txt").read_text() == "hi\n"
    subject = subprocess.run(["git", "log", "-1", "--format=%s"], cwd=repo, check=True,
                             capture_output=True, text=True).stdout.strip()
    assert subject == "claim(D1)"


@pytest.mark.e2e
def test_claude_code_runs_the_scripted_commit(tmp_path: Path, own_home: Path) -> None:
    claude_bin = ensure_cli("ensure-claude.sh", "claude")
    repo = git_repo(tmp_path / "repo")
    with start_server(PLAYBOOKS / "claude_e2e.toml") as server:
        env = {**os.environ, "HOME": str(own_home), "ANTHROPIC_BASE_URL": server.url,
               "ANTHROPIC_API_KEY": "dummy", "DISABLE_AUTOUPDATER": "1",
               "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "IS_SANDBOX": "1",
               "CLAUDE_CODE_MAX_RETRIES": "1"}
        done = subprocess.run([claude_bin, "-p", "make the file", "--dangerously-skip-permissions"],
                              cwd=repo, env=env, capture_output=True, text=True, timeout=180,
                              stdin=subprocess.DEVNULL)
        entries = server.journal_entries()
    assert done.returncode == 0, done.stderr
    assert "Made the file and committed it as claim(D1)." in done.stdout
    assert_made_and_committed(repo)
    turn = [(e["rule"], e["kind"], e["step"]) for e in entries if e["path"] == "/v1/messages"
            and e["kind"] != "side"]
    assert turn == [("make-file", "tool", 0), ("make-file", "text", 1)]
    # Claude Code wrote a real transcript under the test's HOME.
    assert list((own_home / ".claude" / "projects").glob("*/*.jsonl"))


@pytest.mark.e2e
def test_codex_exec_runs_the_scripted_commit(tmp_path: Path, own_home: Path) -> None:
    codex_bin = ensure_cli("ensure-codex.sh", "codex")
    repo = git_repo(tmp_path / "repo")
    codex_home = own_home / ".codex"
    codex_home.mkdir()
    with start_server(PLAYBOOKS / "codex_e2e.toml") as server:
        # json.dumps gives TOML-compatible quoted strings for the values we write.
        (codex_home / "config.toml").write_text("\n".join([
            'model = "gpt-5-codex"', 'model_provider = "rehearsal"',
            'approval_policy = "never"', 'sandbox_mode = "danger-full-access"',
            "[model_providers.rehearsal]", 'name = "rehearsal"',
            f"base_url = {json.dumps(server.url + '/v1')}", 'env_key = "REHEARSAL_API_KEY"',
            'wire_api = "responses"', f"[projects.{json.dumps(str(repo))}]",
            'trust_level = "trusted"', ""]))
        env = {**os.environ, "HOME": str(own_home), "CODEX_HOME": str(codex_home),
               "REHEARSAL_API_KEY": "dummy"}
        done = subprocess.run([codex_bin, "exec", "make the file"], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=180,
                              stdin=subprocess.DEVNULL)
        entries = server.journal_entries()
    assert done.returncode == 0, done.stderr
    assert "Made the file and committed it as claim(D1)." in done.stdout
    assert_made_and_committed(repo)
    assert [(e["rule"], e["kind"], e["step"]) for e in entries if e["path"] == "/v1/responses"] \
        == [("make-file", "tool", 0), ("make-file", "text", 1)]
    assert list((codex_home / "sessions").rglob("rollout-*.jsonl"))
