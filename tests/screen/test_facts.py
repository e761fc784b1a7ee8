"""Screen facts: the content hash that tells a changed screen from a ticking timer."""

from __future__ import annotations

from agent_orchestrator.screen.facts import content_hash


def test_content_hash_ignores_ticking_timers_and_spinner_glyphs() -> None:
    at_16 = ["❯ Build it", "✽ Mulling… (16s · ↓ 24 tokens)", "  ⏵⏵ bypass permissions on · esc to interrupt"]
    at_45 = ["❯ Build it", "✶ Mulling… (45s · ↓ 24 tokens)", "  ⏵⏵ bypass permissions on · esc to interrupt"]
    moved = ["❯ Build it", "● Bash(git commit -m 'claim(G1)')", "  ⏵⏵ bypass permissions on · esc to interrupt"]
    assert content_hash(at_16) == content_hash(at_45)
    assert content_hash(at_16) != content_hash(moved)
