"""Playbook ``usage`` tables: the Anthropic wire name ``cache_creation`` is the cache-write bucket;
``hold`` delays only a rule's final reply."""

from __future__ import annotations

import pytest

from agent_orchestrator.rehearsal.playbook import DEFAULT_USAGE, Exchange, PlaybookError, ToolResult, choose, parse_playbook
from agent_orchestrator.tokens.usage import Usage


def test_usage_keys_map_onto_the_token_usage_type() -> None:
    book = parse_playbook({"rule": [{"text": "hi", "usage": {"output": 7, "cache_creation": 500}}]})
    assert book.rules[0].usage == Usage(input=12, output=7, cache_read=11800, cache_write=500)
    assert book.default.usage == DEFAULT_USAGE == Usage(input=12, output=85, cache_read=11800, cache_write=1450)


def test_usage_rejects_the_field_name_and_negative_counts() -> None:
    with pytest.raises(PlaybookError, match=r"rule\[0\]\.usage\.cache_write: unknown key"):
        parse_playbook({"rule": [{"usage": {"cache_write": 1}}]})
    with pytest.raises(PlaybookError, match="expected tokens >= 0"):
        parse_playbook({"default": {"usage": {"input": -1}}})


def test_hold_delays_only_the_final_reply() -> None:
    """`hold`: a turn that stays busy after its tool calls (the outbox e2e tests' slow turns)."""
    book = parse_playbook({"rule": [{"last_user": "go", "delay": 1, "hold": 20, "steps": [{"bash": "true"}], "text": "done"}]})
    first = choose(book, Exchange("anthropic", "m", frozenset({"Bash"}), "go"), {})
    last = choose(book, Exchange("anthropic", "m", frozenset({"Bash"}), "go", (ToolResult("true", ""),)), {})
    assert (first.kind, first.delay) == ("tool", 1.0)
    assert (last.kind, last.text, last.delay) == ("text", "done", 21.0)
    with pytest.raises(PlaybookError, match=r"rule\[0\]\.hold: expected seconds >= 0"):
        parse_playbook({"rule": [{"hold": -1}]})
