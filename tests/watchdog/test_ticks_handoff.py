"""The phase machine and the git handoff in whole ticks over fakes: pushes → pings, advances,
completion and on_complete, force-pushes and fetch failures.

The team of tests/watchdog/test_handoff_integration.py — `builder`/`adversary` loop agents, a
persistent `second` reviewer, a `reporter` task for `on_complete`, an inbox for the builder —
on a real `Watchdog` (config, policies, executor, state files) whose tmux, git and clock are the
in-memory fakes of tests/support. The test pushes to origin/main (`h.git.push`) and reads back
what each agent was sent (`h.rt.received(session)`, across restarts) and what the tick logged.
No tmux, no git, no sleeps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.watchdog.phasectl import phase_info
from agent_orchestrator.watchdog.state import load_state
from tests.support.harness import Harness

STATUS = ".agents/status-{}.md"
INBOX = ".agents/inbox-builder.md"
LOOP_AGENTS = ("builder", "adversary")
UP_AGENTS = ("builder", "adversary", "second")
KICKOFF = "Phase {phase_id} as {role}: plan {plan}, status {status}.\n"

FENCED_DONE = "In progress.\n\nWrite this when every gate passes:\n\n```markdown\n## DONE\n```\n"
REAL_DONE = "All gates passed.\n\n## DONE\n"


def team_config(phases: tuple[str, ...] = ("p1", "p2")) -> str:
    rows = ",\n".join(f'  {{ id = "{p}", plan = "plan-{p}.md", status = "{STATUS.format(p)}" }}' for p in phases)
    return f"""
[watchdog]
signal_interval = 1
heavy_interval = 1
start_secs = 1

[loop]
kickoff = "kickoff.md"
repo = "work"
phases = [
{rows},
]
on_complete = {{ run = "reporter" }}

[loop.handoff]
claim_pings = ["adversary", "second"]
review_pings = "builder"
inboxes = {{ "{INBOX}" = "builder" }}

[[agent]]
name = "builder"
kind = "loop"
role = "builder"
watch = "heal"

[[agent]]
name = "adversary"
kind = "loop"
role = "adversary"
watch = "heal"

[[agent]]
name = "second"
prompt = "I review too."
watch = "heal"

[[agent]]
name = "reporter"
kind = "task"
prompt = "Write the final report."
"""


@pytest.fixture
def team(tmp_path: Path) -> Harness:
    """The team up, origin/main holding the status files and the inbox, and a baseline tick."""
    (tmp_path / "work").mkdir()
    files = {"kickoff.md": KICKOFF, **{f"plan-{p}.md": f"the plan of {p}\n" for p in ("p1", "p2", "p3")}}
    h = Harness.make(tmp_path, team_config(), files=files)
    h.git.push("init", {STATUS.format("p1"): "In progress.\n", STATUS.format("p2"): "In progress.\n", INBOX: ""},
               ts=h.clock() - 60)
    return h


def up(h: Harness) -> None:
    """The first tick baselines origin/main (and pings nobody)."""
    assert h.tick() == []
    assert load_state(h.dog.log_dir).handoff.last_seen == h.git.head


def received(h: Harness, name: str) -> list[str]:
    return h.rt.received(f"t-{name}")


def counts(h: Harness, *names: str) -> list[int]:
    return [len(received(h, n)) for n in names]


def pids(h: Harness, *names: str) -> dict[str, int | None]:
    return {n: h.rt.pid(f"t-{n}") for n in names}


def kickoffs(h: Harness, name: str) -> list[str]:
    """The kickoff of every start of the agent (the demo backend takes it as the last argument)."""
    return [argv[-1] for _, _, argv in h.rt.starts(f"t-{name}")]


def shown(h: Harness) -> tuple[str, int, int, bool, str]:
    """What `agents phase show` reports: (phase id, index, total, complete, on_complete)."""
    info = phase_info(load_config(h.path), h.clock())
    return info.phase_id, info.index, info.total, info.complete, info.on_complete


# -- 1. claims and reviews --------------------------------------------------------------------

def test_claim_pings_both_reviewers_and_review_pings_the_builder_edge_triggered(team: Harness) -> None:
    up(team)
    assert counts(team, *UP_AGENTS) == [0, 0, 0]

    sha = team.git.push("claim(G1): parser handles empty input")
    assert team.tick(1) == [("", "gate"), ("adversary", "ping"), ("second", "ping")]
    for name in ("adversary", "second"):
        [text] = received(team, name)
        assert "claim(G1): parser handles empty input" in text and sha[:8] in text
    assert received(team, "builder") == []
    assert [e["gate"] for e in team.events("gate")] == ["G1"]

    team.git.push("review(G1): FAIL — empty input still crashes")
    assert team.tick(1) == [("builder", "ping")]
    [text] = received(team, "builder")
    assert "review(G1): FAIL — empty input still crashes" in text and "new review" in text
    assert counts(team, "adversary", "second") == [1, 1]

    assert team.tick(1) == []  # no new commits: nobody is pinged again
    team.restart()
    assert team.tick(1) == []  # nor by a watchdog restarted from disk
    assert counts(team, "builder", "adversary", "second") == [1, 1, 1]
    assert len(team.events("ping")) == 3

    team.git.push("feat: claim(G2)")
    assert team.tick(1) == [("", "gate"), ("adversary", "ping"), ("second", "ping")]
    for name in ("adversary", "second"):
        texts = received(team, name)
        assert len(texts) == 2 and "feat: claim(G2)" in texts[1] and "G1" not in texts[1]
    assert len(received(team, "builder")) == 1
    assert [e["gate"] for e in team.events("gate")] == ["G1", "G2"]


def test_claim_pushed_before_the_first_tick_is_pinged_but_older_history_is_not(team: Harness) -> None:
    team.git.push("claim(G0): earlier run", ts=team.clock() - 3600)  # from an earlier run: history, not news
    team.clock.advance(2)
    team.git.push("claim(G1): beat the watchdog's first fetch")
    assert team.tick() == [("", "gate"), ("adversary", "ping"), ("second", "ping")]  # the first tick ever
    for name in ("adversary", "second"):
        [text] = received(team, name)
        assert "claim(G1): beat the watchdog's first fetch" in text and "G0" not in text
    assert [e["gate"] for e in team.events("gate")] == ["G1"]


def test_several_claims_in_one_push_are_one_message_per_reviewer(team: Harness) -> None:
    up(team)
    team.git.push("claim(G1): first")
    team.git.push("chore: unrelated")
    team.git.push("claim(G2): second")
    assert team.tick(1) == [("", "gate"), ("", "gate"), ("adversary", "ping"), ("second", "ping")]
    for name in ("adversary", "second"):
        [text] = received(team, name)
        assert "claim(G1): first" in text and "claim(G2): second" in text and "unrelated" not in text
    assert received(team, "builder") == []


# -- 2. inboxes -------------------------------------------------------------------------------

def test_pushed_inbox_change_pings_its_agent_and_an_unrelated_push_does_not(team: Harness) -> None:
    """(That a local, unpushed inbox edit is not seen is GitRepo's — see the integration test.)"""
    up(team)
    assert team.tick(1) == [] and team.events("ping") == []

    team.git.push("chore: leave the builder a note", {INBOX: "Please rerun G1 with -x.\n"})
    assert team.tick(1) == [("builder", "ping")]
    [text] = received(team, "builder")
    assert INBOX in text and "inbox" in text
    assert received(team, "adversary") == received(team, "second") == []

    team.git.push("chore: unrelated", {"README.md": "hello\n"})
    assert team.tick(1) == []  # the inbox blob did not change: no second ping
    assert len(received(team, "builder")) == 1


# -- 3. phase advance -------------------------------------------------------------------------

def test_done_marker_in_a_fence_does_not_advance_a_real_one_does(team: Harness) -> None:
    up(team)
    before = pids(team, *UP_AGENTS)
    team.git.push("docs: status template", {STATUS.format("p1"): FENCED_DONE})
    assert team.tick(1) == []
    assert team.events("phase-advance") == [] and load_state(team.dog.log_dir).phase.index == 0
    assert pids(team, *UP_AGENTS) == before

    team.git.push("p1 done", {STATUS.format("p1"): REAL_DONE})
    assert team.tick(1) == [("", "phase-advance"), ("builder", "advance"), ("adversary", "advance")]
    [advance] = team.events("phase-advance")
    assert advance["phase"] == "p1" and advance["index"] == 1
    for name in LOOP_AGENTS:
        assert team.rt.pid(f"t-{name}") != before[name]
        assert kickoffs(team, name)[-1] == (f"Phase p2 as {name}: plan {team.path.parent / 'plan-p2.md'}, "
                                            f"status {STATUS.format('p2')}.\n")
    assert team.rt.pid("t-second") == before["second"]  # a persistent agent is not part of the phase machine
    assert shown(team) == ("p2", 1, 2, False, "")
    assert phase_info(load_config(team.path)).status_file == STATUS.format("p2")

    assert team.tick(1) == []  # the p1 marker stays on origin/main: it does not advance p2
    assert len(team.events("phase-advance")) == 1 and load_state(team.dog.log_dir).phase.index == 1


# -- 4. completion and on_complete exactly once -----------------------------------------------

def complete_sequence(h: Harness) -> None:
    """Walk p1 → p2 with pushed done markers; p2's marker is pushed, not yet seen."""
    before = pids(h, *LOOP_AGENTS)
    h.git.push("p1 done", {STATUS.format("p1"): REAL_DONE})
    assert h.tick(1) == [("", "phase-advance"), ("builder", "advance"), ("adversary", "advance")]
    assert all(h.rt.pid(f"t-{n}") != before[n] for n in LOOP_AGENTS)
    h.git.push("p2 done", {STATUS.format("p2"): REAL_DONE})


def test_completion_writes_the_marker_once_and_runs_on_complete_once_across_a_restart(team: Harness) -> None:
    up(team)
    complete_sequence(team)
    loop_pids = pids(team, *LOOP_AGENTS)
    assert team.tick(1) == [("", "sequence-complete")]  # the completion tick
    marker = team.dog.log_dir / "SEQUENCE-COMPLETE"
    assert marker.is_file()
    written = marker.read_text()
    assert [e["phase"] for e in team.events("sequence-complete")] == ["p2"]
    state = load_state(team.dog.log_dir)
    assert state.phase.complete and state.phase.on_complete == "pending"

    team.restart()  # the watchdog dies between the completion tick and the next
    assert team.tick(1) == [("reporter", "on-complete")]
    assert kickoffs(team, "reporter") == ["Write the final report."]
    reporter = team.rt.pid("t-reporter")
    for _ in range(3):
        assert team.tick(1) == []
    team.restart()
    assert team.tick(1) == []
    assert [e["agent"] for e in team.events("on-complete")] == ["reporter"]
    assert len(team.rt.starts("t-reporter")) == 1 and team.rt.pid("t-reporter") == reporter
    assert len(team.events("sequence-complete")) == 1 and marker.read_text() == written
    assert load_state(team.dog.log_dir).phase.on_complete == "started"
    assert pids(team, *LOOP_AGENTS) == loop_pids  # no further advance restarts

    # Handoff has stopped: a claim after completion pings nobody.
    team.git.push("claim(G9): after the end")
    assert team.tick(1) == [] and team.tick(1) == []
    assert team.events("ping") == []
    assert received(team, "adversary") == received(team, "second") == []
    assert shown(team)[3:] == (True, "started")


class Killed(BaseException):
    """Stands in for SIGKILL inside a tick (BaseException: nothing in the tick may catch it)."""


def test_watchdog_killed_while_starting_on_complete_still_runs_it_once(team: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    up(team)
    complete_sequence(team)
    assert team.tick(1) == [("", "sequence-complete")]  # on_complete is due
    real_start = Project.start

    def dies_starting_the_reporter(self: Project, unit, *args, **kwargs):  # type: ignore[no-untyped-def]
        if unit.name == "reporter":
            raise Killed()
        return real_start(self, unit, *args, **kwargs)

    monkeypatch.setattr(Project, "start", dies_starting_the_reporter)
    with pytest.raises(Killed):
        team.tick(1)
    monkeypatch.setattr(Project, "start", real_start)
    assert load_state(team.dog.log_dir).phase.on_complete == "starting"  # decided and on disk, not done
    team.restart()  # a new watchdog from what the dead one left on disk
    assert team.tick(1) == [("reporter", "on-complete")]
    assert len(team.rt.starts("t-reporter")) == 1
    assert team.tick(1) == []
    team.restart()  # and once more after another restart: still only the one start
    assert team.tick(1) == []
    assert len(team.rt.starts("t-reporter")) == 1
    assert len(team.events("on-complete")) == 1


def test_watchdog_killed_right_after_starting_on_complete_does_not_start_it_again(team: Harness,
                                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The task started but the watchdog died before it recorded that (a SIGKILL at the worst
    moment): the next watchdog sees the task's new launcher pid and does not start it twice."""
    up(team)
    complete_sequence(team)
    assert team.tick(1) == [("", "sequence-complete")]
    real_start = Project.start

    def dies_after_starting_the_reporter(self: Project, unit, *args, **kwargs):  # type: ignore[no-untyped-def]
        outcome = real_start(self, unit, *args, **kwargs)
        if unit.name == "reporter":
            raise Killed()
        return outcome

    monkeypatch.setattr(Project, "start", dies_after_starting_the_reporter)
    with pytest.raises(Killed):
        team.tick(1)
    monkeypatch.setattr(Project, "start", real_start)
    assert len(team.rt.starts("t-reporter")) == 1
    team.restart()
    assert team.tick(1) == [("reporter", "on-complete-confirmed")]
    for _ in range(3):
        assert team.tick(1) == []
    assert len(team.rt.starts("t-reporter")) == 1 and team.events("on-complete") == []
    assert load_state(team.dog.log_dir).phase.on_complete == "started"


# -- 5. phases appended after completion ------------------------------------------------------

def complete_and_append(h: Harness, advance: float = 1) -> None:
    """Complete p1, p2 (on_complete runs), then append p3 and resume at it (`advance` seconds
    after the reporter started)."""
    complete_sequence(h)
    assert h.tick(1) == [("", "sequence-complete")]
    assert h.tick(1) == [("reporter", "on-complete")]
    assert len(h.rt.starts("t-reporter")) == 1
    before = pids(h, *LOOP_AGENTS)
    h.edit_config(team_config(("p1", "p2", "p3")))
    assert h.tick(advance) == [("", "phase-resumed"), ("builder", "advance"), ("adversary", "advance")]
    [resumed] = h.events("phase-resumed")
    assert resumed["phase"] == "p3"
    assert not (h.dog.log_dir / "SEQUENCE-COMPLETE").exists()  # no longer true: removed
    assert all(h.rt.pid(f"t-{n}") != before[n] for n in LOOP_AGENTS)


def test_appended_phase_resumes_the_sequence_and_on_complete_runs_again_once(team: Harness) -> None:
    up(team)
    complete_and_append(team)
    for name in LOOP_AGENTS:
        assert kickoffs(team, name)[-1].startswith(f"Phase p3 as {name}")
    state = load_state(team.dog.log_dir)
    assert (state.phase.index, state.phase.complete) == (2, False)
    assert shown(team)[:4] == ("p3", 2, 3, False)

    assert team.tick(1) == []  # p3's status file does not exist yet: not done
    assert len(team.events("sequence-complete")) == 1
    team.git.push("p3 done", {STATUS.format("p3"): REAL_DONE})
    assert team.tick(10) == [("", "sequence-complete")]  # p3 took a while (the next test: one that does not)
    assert [e["phase"] for e in team.events("sequence-complete")] == ["p2", "p3"]
    assert team.tick(1) == [("reporter", "on-complete")]
    assert team.tick(1) == [] and team.tick(1) == []
    assert [e["reason"] for e in team.events("on-complete")] == ["sequence complete: on_complete"] * 2
    assert len(team.rt.starts("t-reporter")) == 2
    team.restart()
    assert team.tick(1) == []
    assert len(team.events("on-complete")) == 2 and len(team.events("phase-resumed")) == 1
    assert len(team.rt.starts("t-reporter")) == 2


def test_appended_phase_completed_right_after_on_complete_still_runs_it_again(team: Harness) -> None:
    up(team)
    complete_and_append(team, advance=0.25)
    team.git.push("p3 done", {STATUS.format("p3"): REAL_DONE})
    started = team.rt.panes["t-reporter"].started
    assert team.tick(0.25) == [("", "sequence-complete")]
    assert team.clock() - started == 0.5  # p3 is done within a second of the reporter's start
    assert len(team.events("sequence-complete")) == 2
    assert team.tick(5) == [("reporter", "on-complete")]
    assert team.tick(5) == []
    assert [e["reason"] for e in team.events("on-complete")] == ["sequence complete: on_complete"] * 2
    assert len(team.rt.starts("t-reporter")) == 2


# -- 6. force-push --------------------------------------------------------------------------

def test_force_push_rebaselines_without_repinging_old_claims(team: Harness) -> None:
    up(team)
    g1 = team.git.push("claim(G1): first")
    team.tick(1)
    team.git.push("claim(G2): second")
    team.tick(1)
    assert len(received(team, "adversary")) == 2

    team.git.rewrite(g1, "wip: rework G2")  # origin/main rewritten: G1 + a new commit
    assert team.tick(1) == [("", "history-rewritten")]
    [rewritten] = team.events("history-rewritten")
    assert team.git.head is not None and team.git.head[:8] in rewritten["reason"]
    assert team.tick(1) == []
    assert counts(team, "adversary", "second") == [2, 2]
    assert len(team.events("ping")) == 4

    team.git.push("claim(G3): third")
    assert team.tick(1) == [("", "gate"), ("adversary", "ping"), ("second", "ping")]
    for name in ("adversary", "second"):
        texts = received(team, name)
        assert len(texts) == 3 and "claim(G3): third" in texts[2]
        assert "G1" not in texts[2] and "G2" not in texts[2]
    assert len(team.events("history-rewritten")) == 1


def test_claim_on_top_of_a_force_push_still_pings(team: Harness) -> None:
    up(team)
    base = team.git.head
    team.git.push("claim(G1): parser")
    team.tick(1)
    assert len(received(team, "adversary")) == 1
    # The builder fixes a typo inside its pushed G1 commit (same subject), claims G2 on top and
    # force-pushes: G1 is old news, G2 is new.
    team.git.rewrite(base, ("claim(G1): parser", {"parser.txt": "fixed typo\n"}), "claim(G2): lexer")
    assert team.tick(1) == [("", "history-rewritten"), ("", "gate"), ("adversary", "ping"), ("second", "ping")]
    for name in ("adversary", "second"):
        texts = received(team, name)
        assert len(texts) == 2 and "claim(G2): lexer" in texts[1] and "G1" not in texts[1]
    assert [e["gate"] for e in team.events("gate")] == ["G1", "G2"]


# -- 7. fetch failure -----------------------------------------------------------------------

def test_fetch_failure_is_reported_once_and_recovers(team: Harness) -> None:
    up(team)
    team.git.fail = "git fetch --quiet --no-recurse-submodules --end-of-options origin: exit 128: fatal: 'origin' does not appear to be a git repository"
    assert team.tick(1) == [("", "fetch-failed")]
    assert team.tick(1) == [] and team.tick(1) == []  # never raises; the watchdog keeps ticking
    [failed] = team.events("fetch-failed")
    assert "git fetch" in failed["reason"]
    assert team.events("fetch-ok") == []
    team.git.push("review(G1): PASS")  # work goes on meanwhile: the review lands on the unreachable origin
    assert team.tick(1) == []
    assert received(team, "builder") == []

    team.git.fail = ""
    assert team.tick(1) == [("", "fetch-ok"), ("builder", "ping")]
    assert len(team.events("fetch-ok")) == 1 and len(team.events("fetch-failed")) == 1
    [text] = received(team, "builder")  # what was pushed during the outage is not lost
    assert "review(G1): PASS" in text
    assert team.tick(1) == []
    assert len(team.events("fetch-ok")) == 1 and len(received(team, "builder")) == 1
