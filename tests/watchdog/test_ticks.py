"""Whole ticks over fakes: scripted histories of the world → the events each tick logged.

Each history is a list of steps `(seconds to advance, what happens in the world, events the
tick logs)`, run against a real `Watchdog` (config, policies, executor, state files) whose tmux,
git and clock are in-memory fakes (tests/support). No tmux, no git, no sleeps.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.harness import Harness

Step = tuple[float, Callable[[Harness], object] | None, list[tuple[str, str]]]

TEAM = """
[watchdog]
heavy_interval = 30
start_secs = 10
restart_backoff = 5
restart_burst = 3
restart_window = 600

[[agent]]
name = "sup"
watch = "heal+stall"

[[agent]]
name = "job"
kind = "task"
wake = { interval = 100, prompt = "run the report" }
"""

LOOP = """
[watchdog]
heavy_interval = 30

[loop]
kickoff = "kickoff.md"
repo = "work"
phases = [
  { id = "p1", plan = "plan.md", status = "s1.md" },
  { id = "p2", plan = "plan.md", status = "s2.md" },
]
on_complete = { run = "reporter" }

[loop.handoff]
claim_pings = "adversary"
review_pings = "builder"

[[agent]]
name = "builder"
kind = "loop"
watch = "heal+stall"

[[agent]]
name = "adversary"
kind = "loop"

[[agent]]
name = "reporter"
kind = "task"
"""


def run(h: Harness, steps: list[Step]) -> None:
    for i, (advance, world, expected) in enumerate(steps):
        if world is not None:
            world(h)
        got = h.tick(advance)
        assert got == expected, f"step {i}: expected {expected}, got {got}"


@pytest.fixture
def team(tmp_path: Path) -> Harness:
    return Harness.make(tmp_path, TEAM)


@pytest.fixture
def loop(tmp_path: Path) -> Harness:
    (tmp_path / "work").mkdir()
    return Harness.make(tmp_path, LOOP)


def test_a_killed_agent_is_healed_on_the_next_heavy_tick(team: Harness) -> None:
    run(team, [
        (0, None, []),
        (5, lambda h: h.rt.die("t-sup", 1), []),  # a light tick: heal waits for the heavy one
        (25, None, [("sup", "heal")]),
        (5, None, []),
    ])
    assert [e[0] for e in team.rt.starts("t-sup")] == ["start", "restart"]


def test_a_crash_loop_backs_off_then_needs_a_human(team: Harness) -> None:
    team.tick()
    team.rt.die("t-sup", 1)
    seen = []
    for t in range(30, 331, 30):  # heavy ticks; every restarted run dies a second later
        events = [e for e in team.tick(30) if e[0] == "sup"]
        seen.append((t, events))
        if ("sup", "heal") in events:
            team.clock.advance(1)
            team.rt.die("t-sup", 1)
            team.clock.advance(-1)
    # restart at once (the first run lived long); each failed start backs off (5 s, 10 s), so
    # every other heavy tick restarts; the 4th restart within the window is refused
    assert [t for t, e in seen if ("sup", "heal") in e] == [30, 90, 150]
    assert [t for t, e in seen if ("sup", "needs-human") in e] == [180]
    assert team.state_json()["agents"]["sup"]["needs_human"].startswith("3 restarts within 600s")
    # `agents restart sup`: the CLI starts it and asks the watchdog to forget the crash loop
    team.dog.project.start(team.dog.config.agent("sup"), team.rt.observe()["t-sup"])  # type: ignore[arg-type]
    team.request("clear", "sup")
    assert [e for e in team.tick(30) if e[0] == "sup"] == [("sup", "cleared")]
    assert team.state_json()["agents"]["sup"]["needs_human"] == ""
    team.rt.die("t-sup", 1)
    assert [e for e in team.tick(30) if e[0] == "sup"] == [("sup", "heal")]  # supervised again


def test_stalled_persistent_agent_is_rebooted_and_a_waiting_one_left_alone(tmp_path: Path) -> None:
    h = Harness.make(tmp_path, TEAM.split("[[agent]]\nname = \"job\"")[0])
    run(h, [
        (0, lambda h: h.rt.idle("t-sup", "done for now"), []),
        (299, None, []),
        (2, None, [("sup", "reboot")]),
        (1, lambda h: h.rt.idle("t-sup", "WAITING-UNTIL: 2099-01-01T00:00:00Z"), []),
        (3600, None, []),
    ])


def test_task_wake_reruns_it_with_the_wake_prompt(team: Harness) -> None:
    run(team, [(0, None, []), (99, None, []), (1, None, [("job", "wake")]), (100, None, [("job", "wake")])])
    started = team.rt.starts("t-job")
    assert len(started) == 2 and started[0][2][-1] == "run the report"


def test_pause_and_resume_requests_are_applied_once(team: Harness) -> None:
    team.request("pause", "sup")
    run(team, [
        (0, None, [("sup", "pause")]),
        (30, lambda h: h.rt.die("t-sup", 1), []),  # paused: not healed
        (30, lambda h: h.request("resume", "sup"), [("sup", "resume"), ("sup", "heal")]),
        (30, None, []),
    ])
    assert len(team.state_json()["requests_done"]) == 2


def test_claim_and_review_pings_then_advance_and_completion(loop: Harness) -> None:
    def claim(h: Harness) -> None:
        h.git.push("claim(G1): parser")

    def review(h: Harness) -> None:
        h.git.push("review(G1): PASS")

    def done(h: Harness) -> None:
        h.git.push("p1 done", {"s1.md": "# status\n\n## DONE\n"})

    def done2(h: Harness) -> None:
        h.git.push("p2 done", {"s2.md": "## DONE\n"})

    loop.git.push("Initial commit", {"s1.md": "# status\n", "s2.md": "# status\n"}, ts=loop.clock() - 3600)
    run(loop, [
        (0, None, []),
        (5, claim, [("", "gate"), ("adversary", "ping")]),
        (5, None, []),
        (5, review, [("builder", "ping")]),
        (5, done, [("", "phase-advance"), ("builder", "advance"), ("adversary", "advance")]),
        (5, done2, [("", "sequence-complete")]),
        (5, None, [("reporter", "on-complete")]),
        (5, None, []),
    ])
    assert [e[2][-1] for e in loop.rt.starts("t-builder")] == ["Phase p1: read " + str(loop.path.parent / "plan.md"),
                                                                "Phase p2: read " + str(loop.path.parent / "plan.md")]
    pings = [e[2] for e in loop.rt.log if e[0] == "paste" and e[1] == "t-adversary"]
    assert len(pings) == 1 and "claim(G1): parser" in pings[0]
    assert (loop.dog.log_dir / "SEQUENCE-COMPLETE").exists()


def test_a_failed_delivery_is_queued_and_retried(loop: Harness) -> None:
    loop.git.push("Initial commit", {"s1.md": "# status\n"}, ts=loop.clock() - 3600)
    loop.tick()
    loop.rt.panes["t-adversary"].ignore_submit = True
    loop.git.push("claim(G1): parser")
    assert loop.tick(5) == [("", "gate"), ("adversary", "delivery-failed")]
    (queued,) = loop.state_json()["agents"]["adversary"]["outbox"]
    assert (queued["kind"], queued["state"], queued["attempts"]) == ("ping", "queued", 1)
    loop.rt.panes["t-adversary"].ignore_submit = False
    assert loop.tick(1) == []  # the retry waits signal_interval × attempts
    assert loop.tick(5) == [("adversary", "ping")]
    assert loop.state_json()["agents"]["adversary"]["outbox"] == []
    assert len(loop.rt.panes["t-adversary"].submitted) == 1  # the stuck paste was submitted, not pasted twice


def test_the_decided_state_is_saved_before_any_effect(loop: Harness) -> None:
    """A phase advance is on disk before the loop agents restart (a crash mid-effect restarts
    from what was decided)."""
    loop.git.push("Initial commit", {"s1.md": "# status\n"}, ts=loop.clock() - 3600)
    loop.tick()
    seen: list[int] = []
    restart = loop.rt.restart

    def spy(session: str, *args: object, **kwargs: object) -> None:
        seen.append(loop.state_json()["phase"]["index"])
        restart(session, *args, **kwargs)  # type: ignore[arg-type]

    loop.rt.restart = spy  # type: ignore[method-assign]
    loop.git.push("p1 done", {"s1.md": "## DONE\n"})
    loop.tick(5)
    assert seen == [1, 1]


def test_review_probe_1_no_limit_window_on_a_session_being_replaced(loop: Harness) -> None:
    loop.git.push("Initial commit", {"s1.md": "# status\n"}, ts=loop.clock() - 3600)
    loop.tick()
    loop.rt.idle("t-builder", "demo: usage limit reached, resets in 2 hours")
    loop.git.push("p1 done", {"s1.md": "## DONE\n"})
    events = loop.tick(5)
    assert ("builder", "usage-limit") not in events and ("builder", "advance") in events
    assert loop.state_json()["agents"]["builder"]["limit"] is None


def test_review_probe_2_a_broken_kickoff_does_not_lose_the_claim_ping(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    body = LOOP.replace('name = "builder"\nkind = "loop"', 'name = "builder"\nkind = "loop"\nwake = { interval = 60 }')
    h = Harness.make(tmp_path, body)
    h.git.push("Initial commit", {"s1.md": "# status\n"}, ts=h.clock() - 3600)
    h.tick()
    (tmp_path / "kickoff.md").write_text("Phase {typo}")  # edited after validation
    h.git.push("claim(G1): parser")
    events = h.tick(60)
    assert ("adversary", "ping") in events and ("builder", "wake-skipped") in events
    reason = h.events("wake-skipped")[-1]["reason"]
    assert "kickoff cannot be rendered" in reason and "typo" in reason


# -- supervision with the timings of tests/watchdog/test_tmux_integration.py -------------------------

SUPERVISED = """
[watchdog]
signal_interval = 1
heavy_interval = 1
stall_grace = 5
limit_reset_slack = 5
limit_probe_fallback = 60
start_secs = 2
restart_backoff = 1
restart_backoff_max = 4
restart_burst = 3
restart_window = 600
"""

BUILDER = SUPERVISED + """
[backend.demo]
stall_idle = 3

[loop]
kickoff = "kickoff.md"
phases = [{ id = "p1", plan = "plan.md", status = "status.md" }]

[[agent]]
name = "b"
kind = "loop"
watch = "heal+stall"
"""


@pytest.fixture
def builder(tmp_path: Path) -> Harness:
    """A loop agent `b` supervised with heal+stall (stall_idle = 3 s, as the fake agent's backend)."""
    return Harness.make(tmp_path, BUILDER, files={"kickoff.md": "Build phase {phase_id}."})


def actions_of(h: Harness, agent: str) -> list[str]:
    return [e["action"] for e in h.events() if e["agent"] == agent]


def test_crash_on_start_ends_in_needs_human_until_restart_clears_it(tmp_path: Path) -> None:
    from agent_orchestrator.watchdog.view import held_states

    h = Harness.make(tmp_path, SUPERVISED + '\n[[agent]]\nname = "c"\n')
    crash_on_start = True
    for _ in range(12):
        if crash_on_start and not h.rt.panes["t-c"].dead:
            h.rt.die("t-c", 1)  # every start exits at once
        h.tick(5)
    assert actions_of(h, "c") == ["heal", "heal", "heal", "needs-human"]
    assert h.state_json()["agents"]["c"]["needs_human"]
    assert held_states(h.dog.log_dir)["c"].state == "needs-human"  # what `agents status` shows
    # `agents restart c` once the crash is fixed: the CLI starts it and asks the watchdog to clear the hold
    h.dog.project.start(h.dog.config.agent("c"), h.rt.observe()["t-c"])  # type: ignore[arg-type]
    h.request("clear", "c")
    assert h.tick(1) == [("c", "cleared")]
    assert h.state_json()["agents"]["c"]["needs_human"] == ""
    assert actions_of(h, "c")[-1] == "cleared"
    assert not h.rt.panes["t-c"].dead and len(h.rt.starts("t-c")) == 5  # up, 3 heals, the restart


def test_stalled_loop_agent_is_nudged_once_then_rebooted_with_its_kickoff(builder: Harness) -> None:
    assert builder.tick() == []
    assert builder.rt.received("t-b") == []
    assert builder.tick(10) == [("b", "nudge")]  # idle well past stall_idle
    [nudge] = builder.rt.received("t-b")
    assert "phase p1" in nudge and "status.md" in nudge and "## DONE" in nudge
    first_pid = builder.rt.pid("t-b")
    assert builder.tick(1) == []
    assert builder.rt.pid("t-b") == first_pid  # a fresh idle window follows the nudge
    assert builder.tick(10) == [("b", "reboot")]
    assert builder.rt.pid("t-b") != first_pid
    assert builder.rt.starts("t-b")[-1][2][-1] == "Build phase p1."  # rebooted with its kickoff
    assert actions_of(builder, "b") == ["nudge", "reboot"]
    assert len(builder.rt.received("t-b")) == 1


def test_the_nudge_flag_survives_a_watchdog_restart(builder: Harness) -> None:
    builder.tick()
    assert builder.tick(10) == [("b", "nudge")]
    builder.restart()  # the watchdog dies after the nudge; a new one reads its state
    state = builder.state_json()["agents"]["b"]
    assert state["nudged_phase"] == "p1" and state["idle_since"] is not None
    assert builder.tick(1) == []
    assert builder.tick(10) == [("b", "reboot")]  # still stalled: the nudge was spent, no second one
    assert len(builder.rt.received("t-b")) == 1


def test_waiting_until_is_left_alone_and_a_missed_one_is_acted_on(builder: Harness) -> None:
    from datetime import UTC, datetime

    until = datetime.fromtimestamp(builder.clock() + 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    builder.rt.idle("t-b", "I wait for the nightly build.", f"WAITING-UNTIL: {until}")
    assert builder.tick() == []
    assert builder.tick(600) == []  # idle for 10 minutes, but waiting on purpose for an hour
    assert builder.rt.received("t-b") == [] and builder.events("nudge") == []
    assert builder.tick(3600 + 10) == [("b", "nudge")]  # past the time + stall_grace: the wait was missed
    assert len(builder.rt.received("t-b")) == 1
    reason = builder.events("nudge")[0]["reason"]
    assert "idle" in reason and "WAITING-UNTIL time has passed" in reason


def test_usage_limit_window_is_respected_then_probed_and_rearmed(builder: Harness) -> None:
    builder.rt.idle("t-b", "demo: usage limit reached, resets in 2m")
    assert builder.tick() == [("b", "usage-limit")]
    [opened] = builder.events("usage-limit")
    assert opened["quiet_until"] == builder.clock() + 120 + 5  # the reset + limit_reset_slack
    assert builder.tick(60) == []  # idle past stall_idle but limited: no nudge, no reboot, no probe
    assert builder.rt.received("t-b") == [] and builder.events("nudge") == builder.events("reboot") == []
    assert builder.tick(70) == [("b", "probe")]  # past the reset + slack: one probe
    assert len(builder.rt.received("t-b")) == 1
    builder.clock.advance(1)
    builder.rt.idle("t-b", "demo: usage limit reached, resets in 2m")  # the banner comes back
    assert builder.tick() == [("b", "usage-limit-rearmed")]  # re-armed, not probed again
    assert builder.events("usage-limit-rearmed")[0]["quiet_until"] == builder.clock() + 120 + 5
    assert len(builder.rt.received("t-b")) == 1


def test_persistent_and_task_wakes(tmp_path: Path) -> None:
    h = Harness.make(tmp_path, SUPERVISED + """
[[agent]]
name = "sup"
prompt = "I supervise"
wake = { interval = 30, prompt = "check the queue" }

[[agent]]
name = "job"
kind = "task"
wake = { interval = 30, prompt = "run the report" }
""")
    assert "t-job" not in h.rt.panes  # tasks are not started by up
    assert h.tick() == []
    assert h.tick(31) == [("job", "wake"), ("sup", "wake")]  # a task re-run starts; a message goes through the outbox
    assert h.rt.received("t-sup") == ["check the queue"]
    assert [argv[-1] for _, _, argv in h.rt.starts("t-job")] == ["run the report"]
    h.rt.busy("t-job")  # the run is still active at the next wake: not re-run
    assert h.tick(31) == [("job", "wake-skipped"), ("sup", "wake")]
    assert h.events("wake-skipped")[-1]["agent"] == "job"
    assert len(h.rt.starts("t-job")) == 1 and h.rt.received("t-sup") == ["check the queue"] * 2


def test_invalid_edit_keeps_the_last_good_config(tmp_path: Path) -> None:
    h = Harness.make(tmp_path, SUPERVISED + '\n[[agent]]\nname = "a"\n')
    assert h.tick() == []
    good = h.path.read_text()
    h.path.write_text(good + '\n[[agent]]\nname = "broken"\nkind = "daemon"\n')
    h.rt.die("t-a", 137)
    assert h.tick(1) == [("", "config-invalid"), ("a", "heal")]  # still healing on the old config
    assert not h.rt.panes["t-a"].dead
    [invalid] = h.events("config-invalid")
    assert 'agent[1].kind: "daemon" is not one of' in invalid["reason"]
    assert 'agent[1].kind: "daemon" is not one of' in h.state_json()["config_error"]
    assert h.tick(1) == []  # reported once
    h.path.write_text(good)
    assert h.tick(1) == [("", "config-valid")]
    assert h.state_json()["config_error"] == ""


def test_identity_edits_wait_for_down_and_up(tmp_path: Path) -> None:
    h = Harness.make(tmp_path, TEAM)
    h.tick()
    h.path.write_text(h.path.read_text().replace('session_prefix = "t-"', 'session_prefix = "other-"'))
    assert h.tick(1) == [("", "config-deferred")]
    assert h.dog.config.defaults.session_prefix == "t-" and set(h.rt.panes) == {"t-sup"}  # no second team
    assert "session_prefix changed" in h.state_json()["config_error"]
    assert h.tick(30) == []  # said once; the running team is still supervised as before
    h.path.write_text(h.path.read_text().replace('session_prefix = "other-"', 'session_prefix = "t-"'))
    assert h.tick(1) == [("", "config-valid")]
    assert h.state_json()["config_error"] == ""
