"""Config loading: defaults, inheritance, presets, and a table of bad configs → exact error lines."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agent_orchestrator.config import ConfigError, load_config

BASE = """
[defaults]
session_prefix = "t-"
log_dir = "run"
backend = "demo"
"""


def write(tmp_path: Path, body: str, base: str = BASE) -> Path:
    path = tmp_path / "agents.toml"
    path.write_text(textwrap.dedent(base) + textwrap.dedent(body), encoding="utf-8")
    return path


def errors(tmp_path: Path, body: str, base: str = BASE) -> list[str]:
    path = write(tmp_path, body, base)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    prefix = f"{path}: "
    assert all(line.startswith(prefix) for line in info.value.lines), info.value.lines
    return [line[len(prefix):] for line in info.value.lines]


def test_defaults_are_inherited_and_paths_resolve(tmp_path: Path) -> None:
    path = write(tmp_path, """
        [[agent]]
        name = "a"

        [[agent]]
        name = "b"
        backend = "claude"
        model = "opus"
        watch = "heal+stall"
        dir = "work/b"
    """)
    config = load_config(path)
    a, b = config.agents
    assert (a.backend, a.watch, a.kind, a.session, a.dir) == ("demo", "heal", "persistent", "t-a", tmp_path)
    assert (b.backend, b.model, b.watch, b.dir) == ("claude", "opus", "heal+stall", tmp_path / "work" / "b")
    assert config.defaults.log_dir == tmp_path / "run"
    assert config.watchdog.signal_interval == 5.0
    assert config.watchdog_session == "t-watchdog"


def test_backend_block_overrides_preset_and_merges_env(tmp_path: Path) -> None:
    path = write(tmp_path, """
        [backend.claude]
        stall_idle = 90
        env = { CLAUDE_CODE_MAX_RETRIES = "1" }

        [backend.mine]
        extends = "claude"
        bin = "/opt/claude"
        env = { EXTRA = "1" }

        [backend.plain]
        bin = "aider"
        prompt_delivery = "paste"
    """)
    config = load_config(path)
    claude, mine, plain = config.backends["claude"], config.backends["mine"], config.backends["plain"]
    assert claude.stall_idle == 90 and claude.flags == ["--dangerously-skip-permissions"]
    assert claude.env == {"CLAUDE_CODE_MAX_RETRIES": "1"}
    # extends the already-overridden claude block, then overrides again
    assert mine.bin == "/opt/claude" and mine.stall_idle == 90
    assert mine.env == {"CLAUDE_CODE_MAX_RETRIES": "1", "EXTRA": "1"}
    assert mine.process_name == ["claude"]
    assert plain.bin == "aider" and plain.prompt_delivery == "paste" and plain.flags == []


def test_ping_target_may_be_a_name_or_a_list(tmp_path: Path) -> None:
    (tmp_path / "kickoff.md").write_text("Phase {phase_id}: {plan} {status} {role} {done_marker} {state_dir} {{literal}}")
    (tmp_path / "p1.md").write_text("plan")
    path = write(tmp_path, """
        [loop]
        kickoff = "kickoff.md"
        phases = [{ id = "p1", plan = "p1.md", status = "status.md" }]
        [loop.handoff]
        claim_pings = "rev"
        review_pings = ["b", "rev"]

        [[agent]]
        name = "b"
        kind = "loop"
        [[agent]]
        name = "rev"
        kind = "loop"
    """)
    handoff = load_config(path).loop.handoff  # type: ignore[union-attr]
    assert handoff.claim_pings == ["rev"] and handoff.review_pings == ["b", "rev"]


BAD = [
    ("misspelt key", """
        [[agent]]
        name = "a"
        promt = "hi"
     """, ['agent[0].promt: unknown key; did you mean "prompt"?']),
    ("unknown section", """
        [watchdg]
        signal_interval = 5
     """, ['watchdg: unknown key; did you mean "watchdog"?']),
    ("unknown kind", """
        [[agent]]
        name = "a"
        kind = "daemon"
     """, ['agent[0].kind: "daemon" is not one of "loop", "persistent", "task"']),
    ("unknown watch", """
        [[agent]]
        name = "a"
        watch = "heal+stal"
     """, ['agent[0].watch: "heal+stal" is not one of "none", "heal", "heal+stall"; did you mean "heal+stall"?']),
    ("second agent, bad watch", """
        [[agent]]
        name = "a"
        [[agent]]
        name = "b"
        [[agent]]
        name = "c"
        watch = "always"
     """, ['agent[2].watch: "always" is not one of "none", "heal", "heal+stall"']),
    ("unknown prompt_delivery", """
        [backend.x]
        bin = "x"
        prompt_delivery = "typed"
     """, ['backend.x.prompt_delivery: "typed" is not one of "arg", "paste", "exec"']),
    ("duplicate names", """
        [[agent]]
        name = "a"
        [[agent]]
        name = "a"
     """, ['agent[1].name: "a" is already used by agent[0]']),
    ("duplicate sessions", """
        [[agent]]
        name = "a"
        session = "shared"
        [[agent]]
        name = "b"
        session = "shared"
     """, ['agent[1].session: tmux session "shared" is already used by agent[0]']),
    ("session clashes with the watchdog", """
        [[agent]]
        name = "watchdog"
     """, ['agent[0].session: tmux session "t-watchdog" is already used by the watchdog']),
    ("regex does not compile", """
        [backend.x]
        bin = "x"
        active_re = "busy("
     """, ['backend.x.active_re: regex "busy(" does not compile: missing ), unterminated subpattern at position 4']),
    ("zero interval", """
        [watchdog]
        signal_interval = 0
     """, ["watchdog.signal_interval: expected a value > 0, got 0"]),
    ("negative interval", """
        [watchdog]
        heavy_interval = -5
     """, ["watchdog.heavy_interval: expected a value > 0, got -5"]),
    ("wrong type", """
        [watchdog]
        signal_interval = "fast"
     """, ['watchdog.signal_interval: expected a number, got "fast"']),
    ("unknown backend", """
        [[agent]]
        name = "a"
        backend = "clade"
     """, ['agent[0].backend: "clade" is not a defined backend (known: claude, codex, demo, watcher); did you mean "claude"?']),
    ("extends unknown", """
        [backend.x]
        extends = "cluade"
     """, ['backend.x.extends: "cluade" is not a known backend (known: claude, codex, demo, watcher); did you mean "claude"?',
           "backend.x.bin: required key is missing (a string)"]),
    ("wake without interval", """
        [[agent]]
        name = "a"
        wake = { prompt = "wake up" }
     """, ["agent[0].wake.interval: required key is missing (a number)"]),
    ("service without cmd", """
        [[service]]
        name = "s"
     """, ["service[0].cmd: required key is missing (a list of strings)"]),
    ("bad name", """
        [[agent]]
        name = "a.b"
     """, ['agent[0].name: "a.b" may only hold letters, digits, \'-\' and \'_\'']),
    ("loop agent without a loop", """
        [[agent]]
        name = "a"
        kind = "loop"
     """, ['agent[0].kind: "loop" needs a [loop] section with the phase sequence']),
]


@pytest.mark.parametrize("body,expected", [(b, e) for _, b, e in BAD], ids=[n for n, _, _ in BAD])
def test_bad_config_gives_exact_lines(tmp_path: Path, body: str, expected: list[str]) -> None:
    assert errors(tmp_path, body) == expected


def test_missing_required_defaults(tmp_path: Path) -> None:
    assert errors(tmp_path, "", base="[defaults]\nbackend = \"demo\"\n") == [
        "defaults.session_prefix: required key is missing (a string)",
        "defaults.log_dir: required key is missing (a path string)",
    ]


def test_invalid_toml_names_line_and_column(tmp_path: Path) -> None:
    lines = errors(tmp_path, '[[agent]]\nname = "a\n')
    assert len(lines) == 1 and lines[0].startswith("invalid TOML: line 7, column ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.toml")
    assert info.value.lines == [f"{tmp_path / 'nope.toml'}: no such file (create one with `agents init DIR`, or pass --config PATH)"]


def test_loop_cross_checks(tmp_path: Path) -> None:
    (tmp_path / "kickoff.md").write_text("Phase {phase_id} {phsae}")
    lines = errors(tmp_path, """
        [loop]
        kickoff = "kickoff.md"
        phases = [{ id = "p1", plan = "missing.md", status = "s.md" }, { id = "p1", plan = "missing.md", status = "s.md" }]
        on_complete = { run = "b" }
        [loop.handoff]
        claim_pings = ["rev", "ghost"]
        inboxes = { "inbox.md" = "nobody" }

        [[agent]]
        name = "b"
        kind = "loop"
        [[agent]]
        name = "rev"
        kind = "loop"
    """)
    assert lines == [
        'loop.kickoff: unknown slot {phsae} in kickoff.md (slots: {phase_id}, {plan}, {status}, {role}, {done_marker}, {state_dir}); did you mean "phase_id"?',
        f"loop.phases[0].plan: file not found: {tmp_path / 'missing.md'}",
        'loop.phases[1].id: "p1" is already used by loop.phases[0]',
        f"loop.phases[1].plan: file not found: {tmp_path / 'missing.md'}",
        'loop.on_complete.run: "b" is a loop agent; expected a kind = "task" agent',
        'loop.handoff.claim_pings[1]: "ghost" names no agent (agents: b, rev)',
        'loop.handoff.inboxes.inbox.md: "nobody" names no agent (agents: b, rev)',
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    lines = errors(tmp_path, """
        [[agent]]
        name = "a"
        promt = "x"
        [[agent]]
        name = "b"
        kind = "nope"
    """)
    assert len(lines) == 2


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_non_finite_durations_are_rejected(tmp_path: Path, value: str) -> None:
    assert errors(tmp_path, f"[watchdog]\nsignal_interval = {value}\n") == [f"watchdog.signal_interval: expected a finite number, got {value}"]


def test_agents_without_a_usable_name_are_errors_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "k.md").write_text("Phase {phase_id}")
    body = '[[agent]]\nname = 5\n\n[[agent]]\nkind = "persistent"\n\n[loop]\nkickoff = "k.md"\n[loop.handoff]\nclaim_pings = ["nobody"]\n'
    assert errors(tmp_path, body) == [
        "agent[0].name: expected a string, got 5",
        "agent[1].name: required key is missing (a string)",
        'loop.handoff.claim_pings[0]: "nobody" names no agent (agents: none)',
    ]
