"""Dialogs: (state, screen facts) → one key toward the option the dialog's data names, Enter once
the screen shows the cursor on it, a needs-input note when a person must answer."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.screen.detect import screen_lines
from agent_orchestrator.screen.facts import ScreenFacts, read_facts
from agent_orchestrator.watchdog.model import Keys, Note
from agent_orchestrator.watchdog.policies.dialogs import KEY_SETTLE, MAX_MOVES, STEADY, dialogs
from agent_orchestrator.watchdog.state import AgentState, DialogProgress, WatchdogState
from tests.support.policies import NOW, facts, idle, pane, tick

DATA = Path(__file__).resolve().parents[2] / "screen" / "data"
TRUST_332 = ("No, exit", "Yes, I trust this folder")
HOOKS = ("Review hooks", "Trust all and continue", "Continue without trusting (hooks won't run)")
CHOOSE = "^Yes, I trust this folder$"


def trust(cursor: int, **kw: Any) -> dict[str, Any]:
    """Facts keywords of Claude Code 2.1.332's trust dialog with its cursor on option `cursor`."""
    return {"dialog": "trust", "dialog_options": TRUST_332, "dialog_cursor": cursor, "dialog_choose": CHOOSE,
            "dialog_choice": 1, "hash": f"trust-{cursor}", **kw}


def progress(state: WatchdogState) -> DialogProgress:
    return state.agent("sup").dialog


# (state, tick keywords, actions, sup's dialogs_answered after, sup's progress after)
DIALOGS: list[Any] = [
    pytest.param(idle("sup", 1, **trust(0)), {}, (Keys("sup", ("Down",), "dialog trust: Down toward 'Yes, I trust this folder'"),), 0,
                 DialogProgress("trust-0", NOW, 1, "", NOW), id="move-toward-the-wanted-option"),
    pytest.param(idle("sup", 1, **trust(1)), {}, (Keys("sup", ("Enter",), "dialog trust: choose 'Yes, I trust this folder'"),), 1,
                 DialogProgress("trust-1", NOW, 0, "", NOW), id="enter-once-the-cursor-is-on-it"),
    pytest.param(idle("sup", 1, **trust(0)).update_agent("sup", dialog=DialogProgress("trust-0", NOW - 2, 1, "", NOW - 2)), {}, (), 0,
                 DialogProgress("trust-0", NOW - 2, 1, "", NOW - 2), id="wait-for-the-screen-to-show-the-last-key"),
    pytest.param(idle("sup", 1, **trust(0)).update_agent("sup", dialog=DialogProgress("trust-0", NOW - KEY_SETTLE, 1, "", NOW - 20)), {},
                 (Keys("sup", ("Down",), "dialog trust: Down toward 'Yes, I trust this folder'"),), 0,
                 DialogProgress("trust-0", NOW, 2, "", NOW, direct=True), id="a-key-that-changed-nothing-is-sent-again-after-the-settle"),
    pytest.param(idle("sup", 1, **trust(1)).update_agent("sup", dialog=DialogProgress("trust-0", NOW - 2, 1, "", NOW - 2)), {},
                 (Keys("sup", ("Enter",), "dialog trust: choose 'Yes, I trust this folder'"),), 1,
                 DialogProgress("trust-1", NOW, 1, "", NOW), id="a-changed-screen-takes-the-next-key-at-once"),
    pytest.param(idle("sup", 1, **trust(1)).update_agent("sup", dialogs_answered=2), {},
                 (Keys("sup", ("Enter",), "dialog trust: choose 'Yes, I trust this folder'"),), 3,
                 DialogProgress("trust-1", NOW, 0, "", NOW), id="third-answer"),
    pytest.param(idle("sup", 1, **trust(1)).update_agent("sup", dialogs_answered=3), {},
                 (Note("sup", "needs-input", "trust: still up after 3 answers; options: No, exit / ❯ Yes, I trust this folder",
                       {"dialog": "trust", "options": list(TRUST_332), "cursor": 1}),), 3,
                 DialogProgress("", 0.0, 0, "trust\nNo, exit\nYes, I trust this folder", NOW), id="no-fourth-answer-a-person-is-needed"),
    pytest.param(idle("sup", 1, **trust(0)).update_agent("sup", dialog=DialogProgress(moves=MAX_MOVES, at=NOW - 5)), {},
                 (Note("sup", "needs-input", "trust: the cursor did not reach 'Yes, I trust this folder' in 12 moves; "
                                             "options: ❯ No, exit / Yes, I trust this folder",
                       {"dialog": "trust", "options": list(TRUST_332), "cursor": 0}),), 0,
                 DialogProgress(moves=MAX_MOVES, noted="trust\nNo, exit\nYes, I trust this folder", at=NOW), id="moves-are-bounded"),
    pytest.param(idle("sup", 1, **trust(0, dialog_choice=None, dialog_choose="^Yes, proceed$")), {},
                 (Note("sup", "needs-input", "trust: no single option matches /^Yes, proceed$/; options: ❯ No, exit / Yes, I trust this folder",
                       {"dialog": "trust", "options": list(TRUST_332), "cursor": 0}),), 0,
                 DialogProgress(noted="trust\nNo, exit\nYes, I trust this folder", at=NOW), id="wanted-option-not-on-screen"),
    pytest.param(idle("sup", 1, dialog="trust", dialog_choose=CHOOSE), {},
                 (Note("sup", "needs-input", f"trust: its options could not be read (to choose /{CHOOSE}/)",
                       {"dialog": "trust", "options": [], "cursor": None}),), 0,
                 DialogProgress(noted="trust", at=NOW), id="options-not-read"),
    pytest.param(idle("sup", 1, dialog="hooks", dialog_options=HOOKS, dialog_cursor=0), {},
                 (Note("sup", "needs-input", "hooks: no automatic answer; a person must choose; options: ❯ Review hooks / "
                                             "Trust all and continue / Continue without trusting (hooks won't run)",
                       {"dialog": "hooks", "options": list(HOOKS), "cursor": 0}),), 0,
                 DialogProgress(noted="hooks\n" + "\n".join(HOOKS), at=NOW), id="nothing-to-choose"),
    pytest.param(idle("sup", 1, dialog="unknown", dialog_options=("A", "B"), dialog_cursor=1), {},
                 (Note("sup", "needs-input", "unknown: no automatic answer; a person must choose; options: A / ❯ B",
                       {"dialog": "unknown", "options": ["A", "B"], "cursor": 1}),), 0,
                 DialogProgress(noted="unknown\nA\nB", at=NOW), id="unknown-option-list"),
    pytest.param(idle("sup", 1, dialog="hooks", dialog_options=HOOKS, dialog_cursor=1)
                 .update_agent("sup", dialog=DialogProgress(noted="hooks\n" + "\n".join(HOOKS), at=NOW - 9)), {}, (), 0,
                 DialogProgress(noted="hooks\n" + "\n".join(HOOKS), at=NOW - 9), id="noted-once-per-episode-the-cursor-may-move"),
    pytest.param(idle("sup", 1).update_agent("sup", dialog=DialogProgress(noted="hooks", at=NOW - 9)), {}, (), 0,
                 DialogProgress(at=NOW), id="the-episode-ends-when-no-dialog-shows"),
    pytest.param(idle("sup", 1, dialog="trust", dialog_keys=["Enter"]), {}, (Keys("sup", ("Enter",), "dialog trust: keys Enter"),), 1,
                 DialogProgress("h", NOW, 0, "", NOW), id="a-user-dialog-with-fixed-keys"),
    pytest.param(idle("sup", 1, **trust(0)), {"captured": False},
                 (Keys("sup", ("Down",), "dialog trust: Down toward 'Yes, I trust this folder'"),), 0,
                 DialogProgress("trust-0", NOW, 1, "", NOW), id="facts-from-an-earlier-capture-are-the-screen-now"),
    pytest.param(idle("sup", 1, **trust(0)), {"panes": {"sup": pane("t-sup", dead=True, status=1)}}, (), 0, DialogProgress(),
                 id="dead-pane"),
    pytest.param(idle("sup", 1), {}, (), 0, DialogProgress(), id="no-dialog"),
    pytest.param(idle("sup", STEADY / 2, **trust(0)), {}, (), 0, DialogProgress(), id="a-dialog-just-drawn-waits-to-be-steady"),
]


@pytest.mark.parametrize("state,observed,actions,answered,after", DIALOGS)
def test_dialogs(config: Config, state: WatchdogState, observed: dict[str, Any], actions: tuple[Any, ...], answered: int,
                 after: DialogProgress) -> None:
    step = dialogs(tick(config, state, **observed))
    assert step.actions == actions
    assert step.state.agent("sup").dialogs_answered == answered
    assert progress(step.state) == after
    assert step.state == state.update_agent("sup", dialogs_answered=answered, dialog=after)


def test_a_list_that_does_not_wrap_is_walked_the_direct_way(config: Config) -> None:
    three = {"dialog": "pick", "dialog_options": ("A", "B", "C"), "dialog_choose": "^C$", "dialog_choice": 2}
    state = idle("sup", 1, **three, dialog_cursor=0, hash="at-A")
    step = dialogs(tick(config, state))
    assert [a.keys for a in step.actions] == [("Up",)]  # type: ignore[union-attr]  # the short way, round the top
    # Up at the top did nothing (the screen is the same after the settle): go straight down instead
    step = dialogs(tick(config, step.state, now=NOW + KEY_SETTLE))
    assert [a.keys for a in step.actions] == [("Down",)]  # type: ignore[union-attr]
    assert progress(step.state).direct and progress(step.state).moves == 2
    moved = step.state.update_agent("sup", facts=facts(**three, dialog_cursor=1, hash="at-B"))
    assert [a.keys for a in dialogs(tick(config, moved, now=NOW + KEY_SETTLE + 1)).actions] == [("Down",)]  # type: ignore[union-attr]


def test_a_start_makes_the_progress_stale(config: Config) -> None:
    state = idle("sup", 1, **trust(0)).update_agent("sup", last_start=NOW - 5, dialog=DialogProgress("trust-0", NOW - 6, 5, "trust", NOW - 6))
    step = dialogs(tick(config, state))
    assert [a.keys for a in step.actions if isinstance(a, Keys)] == [("Down",)]
    assert progress(step.state) == DialogProgress("trust-0", NOW, 1, "", NOW)


def test_needs_input_once_per_episode(config: Config) -> None:
    state = idle("sup", 1, dialog="hooks", dialog_options=HOOKS, dialog_cursor=0)
    notes = []
    for i in range(4):
        step = dialogs(tick(config, state, now=NOW + i))
        notes += step.actions
        state = step.state
    assert [a.event for a in notes if isinstance(a, Note)] == ["needs-input"]
    # the dialog goes away (a person answered it), then comes back: a new episode, a new note
    state = state.update_agent("sup", facts=facts())
    state = dialogs(tick(config, state, now=NOW + 5)).state
    state = state.update_agent("sup", facts=facts(dialog="hooks", dialog_options=HOOKS, dialog_cursor=0))
    assert len(dialogs(tick(config, state, now=NOW + 6)).actions) == 1


class Dialog332:
    """Claude Code 2.1.332's first-run dialogs as the real screens show them: which capture is on
    screen after which keys (tests/screen/data; the lists wrap: Down Down is back on No)."""

    # the screen with the cursor on option 0, on option 1
    TRUST = ("claude-2.1.332-trust.txt", "claude-2.1.332-trust-after-Down.txt")
    API_KEY = ("claude-2.1.332-api_key-after-Up.txt", "claude-2.1.332-api_key.txt")
    READY = "claude-2.1.332-first-prompt-after-Yes.txt"
    NO = "claude-2.1.332-not-logged-in-after-No.txt"

    def __init__(self) -> None:
        self.dialog: tuple[str, ...] | None = self.TRUST
        self.cursor = 0
        self.chosen: list[str] = []

    def screen(self) -> list[str]:
        if self.dialog is None:
            return screen_lines((DATA / (self.NO if "No (recommended)" in self.chosen or "No, exit" in self.chosen
                                         else self.READY)).read_text(encoding="utf-8"))
        return screen_lines((DATA / self.dialog[self.cursor]).read_text(encoding="utf-8"))

    def press(self, key: str) -> None:
        assert self.dialog is not None, f"{key} sent with no dialog up"
        if key in ("Up", "Down"):
            self.cursor = (self.cursor + 1) % 2  # two options: either key moves to the other one
            return
        assert key == "Enter", key
        options = {"trust": ("No, exit", "Yes, I trust this folder"), "api_key": ("Yes", "No (recommended)")}
        kind = "trust" if self.dialog is self.TRUST else "api_key"
        self.chosen.append(options[kind][self.cursor])
        self.dialog, self.cursor = (self.API_KEY, 1) if self.dialog is self.TRUST else (None, 0)


def test_the_first_run_dialogs_of_claude_code_2_1_332_are_answered_yes(config: Config) -> None:
    backend = config.backends["claude"]
    cli = Dialog332()
    state = WatchdogState(agents={"sup": AgentState(idle_since=NOW)})
    sent: list[tuple[str, ...]] = []
    for i in range(12):
        now = NOW + i * 5
        seen: ScreenFacts = read_facts(cli.screen(), backend, current_command="claude", now=now)
        state = state.update_agent("sup", facts=seen)
        step = dialogs(tick(config, state, now=now))
        state = step.state
        for action in step.actions:
            assert isinstance(action, Keys), action
            sent.append(action.keys)
            cli.press(*action.keys)
    assert sent == [("Down",), ("Enter",), ("Up",), ("Enter",)]
    assert cli.chosen == ["Yes, I trust this folder", "Yes"]
    assert state.agent("sup").dialogs_answered == 2 and state.agent("sup").facts.dialog is None  # type: ignore[union-attr]


def test_a_slow_cli_never_gets_a_key_decided_on_a_screen_from_before_the_last_one(config: Config) -> None:
    # The CLI takes the Down but has not redrawn yet: the same screen shows on the next ticks, so
    # no second Down goes out (it would wrap back to `No, exit`) until KEY_SETTLE has passed.
    state = idle("sup", 1, **trust(0))
    step = dialogs(tick(config, state))
    assert [a.keys for a in step.actions] == [("Down",)]  # type: ignore[union-attr]
    for later in (1, 5, KEY_SETTLE - 1):
        assert dialogs(tick(config, step.state, now=NOW + later)).actions == ()
    redrawn = step.state.update_agent("sup", facts=replace(facts(**trust(1)), captured_at=NOW + 2))
    assert [a.keys for a in dialogs(tick(config, redrawn, now=NOW + 2)).actions] == [("Enter",)]  # type: ignore[union-attr]
