"""Dialogs (signal tick): choose the option a dialog's data names, one key per fresh screen.

A dialog says what to choose (`choose`, a regex over the option texts), never which keys: the
screen facts carry the dialog's options, where its cursor is and which option is wanted
(`ScreenFacts.dialog_*`, read by `screen.detect.read_dialog`), and `ScreenFacts.dialog_answer`
plans the next key (`screen.menu.plan_answer`): one Up or Down toward the wanted option (the
shorter way; lists may wrap), or Enter once the screen shows the cursor on it.

- One key at a time: after a key, the next one waits for a screen that differs from the one the
  key was sent on (the CLI has taken it), or for `KEY_SETTLE` seconds (the key was lost or did
  nothing). So a slow CLI never gets a second key decided on a screen from before the first. A
  move the shorter way round that changed nothing means the list does not wrap: from then on
  the cursor goes the direct way. A screen that changed less than `STEADY` seconds ago (the
  idle clock) gets no key yet: a CLI may drop a key sent the moment its dialog appears. (A key
  the CLI takes longer than `KEY_SETTLE` to show is taken for lost and sent again.)
- A confirm is a try; at most `MAX_ANSWERS` per start (a dialog still up after its Enter is
  answered again, as long as tries remain), and at most `MAX_MOVES` cursor moves per start.
- Never blindly: a dialog with nothing to choose (login, a question, Codex's hooks review), one
  whose wanted option is not on screen (or whose options could not be read), an unknown option
  list, and one that used up its tries is a `needs-input` note naming the dialog and its
  options, once per episode (until a screen without a dialog, or another dialog, shows).
- A user-defined dialog with fixed `keys` (and no `choose`) gets those keys, as before.

Progress lives in `AgentState.dialog` (`DialogProgress`) and `dialogs_answered`; a start after
the progress was written makes it stale (a new session starts afresh).
"""

from __future__ import annotations

from dataclasses import replace

from agent_orchestrator.screen.facts import ScreenFacts
from agent_orchestrator.watchdog.model import Action, Keys, Note, Step, Tick
from agent_orchestrator.watchdog.state import AgentState, DialogProgress

MAX_ANSWERS = 3  # confirms (tries) per start
MAX_MOVES = 12  # cursor moves per start
KEY_SETTLE = 10.0  # seconds: a key whose screen has not changed by then was lost or did nothing
STEADY = 1.0  # seconds a dialog's screen must stay the same (the idle clock) before a key goes to it


def _episode(facts: ScreenFacts) -> str:
    """What makes one dialog episode: the dialog and its options (not where the cursor is)."""
    return "\n".join((facts.dialog or "", *facts.dialog_options))


def _options(facts: ScreenFacts) -> str:
    return " / ".join(f"{'❯ ' if i == facts.dialog_cursor else ''}{text}" for i, text in enumerate(facts.dialog_options))


def _progress(st: AgentState) -> DialogProgress:
    progress = st.dialog
    if progress.at and st.last_start is not None and progress.at < st.last_start:
        return DialogProgress()  # written for a session before the current start
    return progress


def _step(name: str, st: AgentState, facts: ScreenFacts, now: float) -> tuple[AgentState, Action | None]:
    progress = _progress(st)
    if not facts.dialog:
        if progress.screen or progress.noted or progress.direct:  # the dialog is gone: the episode is over
            progress = replace(progress, screen="", noted="", direct=False, at=now)
        return replace(st, dialog=progress), None
    unchanged = progress.screen == facts.hash
    if unchanged and now - progress.sent_at < KEY_SETTLE:
        return replace(st, dialog=progress), None  # the screen does not show the last key's effect yet
    if st.idle_since is not None and now - st.idle_since < STEADY:
        return replace(st, dialog=progress), None  # just drawn: a CLI may drop a key sent the moment it appears
    answer = facts.dialog_answer(wraps=not progress.direct)
    assert answer is not None
    if unchanged and answer.keys and not answer.confirm and not progress.direct:
        # The last key, a move on this very screen, changed nothing: the list stops at its ends.
        progress = replace(progress, direct=True)
        answer = facts.dialog_answer(wraps=False)
        assert answer is not None
    person = answer.person
    if not person and answer.confirm and st.dialogs_answered >= MAX_ANSWERS:
        person = f"{facts.dialog}: still up after {MAX_ANSWERS} answers"
    if not person and not answer.confirm and progress.moves >= MAX_MOVES:
        person = f"{facts.dialog}: the cursor did not reach {answer.target!r} in {MAX_MOVES} moves"
    if person:
        episode = _episode(facts)
        if progress.noted == episode:
            return replace(st, dialog=progress), None
        shown = f"; options: {_options(facts)}" if facts.dialog_options else ""
        note = Note(name, "needs-input", person + shown,
                    {"dialog": facts.dialog, "options": list(facts.dialog_options), "cursor": facts.dialog_cursor})
        return replace(st, dialog=replace(progress, noted=episode, at=now)), note
    if answer.target:
        what = f"choose {answer.target!r}" if answer.confirm else f"{answer.keys[0]} toward {answer.target!r}"
    else:
        what = f"keys {' '.join(answer.keys)}"
    moved = 0 if answer.confirm else 1
    progress = replace(progress, screen=facts.hash, sent_at=now, moves=progress.moves + moved, at=now)
    st = replace(st, dialog=progress, dialogs_answered=st.dialogs_answered + (1 if answer.confirm else 0))
    return st, Keys(name, answer.keys, f"dialog {facts.dialog}: {what}")


def dialogs(tick: Tick) -> Step:
    """Move toward, then confirm, the option each agent's dialog wants; report the ones a person
    must answer (see the module docstring)."""
    state = tick.state
    actions: list[Action] = []
    for name, view in tick.views.items():
        facts = view.facts
        if facts is None or not view.alive:
            continue
        st = state.agent(name)
        new, action = _step(name, st, facts, tick.now)
        if new != st:
            state = state.with_agent(name, new)
        if action is not None:
            actions.append(action)
    return Step(state, tuple(actions))
