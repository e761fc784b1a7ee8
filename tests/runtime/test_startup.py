"""`wait_ready`: startup dialogs answered by the option their data names, one key per capture,
against a fake pane whose dialogs move like the real CLIs' (tests/support/fake_runtime.FakeDialog)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from agent_orchestrator.config.schema import BackendConfig, DialogConfig
from agent_orchestrator.runtime.startup import KEY_SETTLE, STEADY, wait_ready
from tests.support.fake_runtime import Clock, FakeDialog, FakeRuntime

SESSION = "t-agent"
READY = ["❯\u00a0", "  ⏵⏵ bypass permissions on (shift+tab to cycle)"]
TRUST_ABOVE = [" Accessing workspace:", " /work/project", " Claude Code'll be able to read, edit, and execute files here.",
               " Security guide"]
KEY_ABOVE = ["  Detected a custom API key in your environment", "  ANTHROPIC_API_KEY: sk-ant-...abcdefghijKLMNOPQRST",
             "  Do you want to use this API key?"]


def trust_332() -> FakeDialog:
    return FakeDialog(TRUST_ABOVE, ["No, exit", "Yes, I trust this folder"], cursor=0)


def api_key_332() -> FakeDialog:
    return FakeDialog(KEY_ABOVE, ["Yes", "No (recommended)"], cursor=1, indent="  ")


def trust_197() -> FakeDialog:
    return FakeDialog(TRUST_ABOVE, ["Yes, I trust this folder", "No, exit"], cursor=0, numbered=True)


def api_key_197() -> FakeDialog:
    return FakeDialog(KEY_ABOVE, ["Yes", "No (recommended)"], cursor=1, numbered=True, indent="  ")


def codex_hooks() -> FakeDialog:
    return FakeDialog(["  Hooks need review", "  12 hooks are new or changed."],
                      ["Review hooks", "Trust all and continue", "Continue without trusting (hooks won't run)"],
                      numbered=True, glyph="›", indent="", hint="  enter confirm · esc skip")


def claude(version: str = "", **kw: object) -> BackendConfig:
    return BackendConfig(bin="claude", screen="claude", screen_version=version, ready_re="^❯", startup_timeout=30,  # type: ignore[arg-type]
                         **kw)


class Run:
    """A fake tmux server whose clock the injected sleep advances."""

    def __init__(self, *dialogs: FakeDialog, key_lag: int = 0) -> None:
        self.clock = Clock(1000.0)
        self.runtime = FakeRuntime(self.clock)
        self.runtime.start(SESSION, ["claude"], cwd=Path("."), spec_dir=Path("."))
        self.runtime.panes[SESSION].screen = list(READY)
        self.runtime.dialog(SESSION, *dialogs, key_lag=key_lag)

    def wait(self, backend: BackendConfig) -> list[str]:
        return wait_ready(self.runtime, SESSION, backend, poll=0.5, sleep=self.clock.advance, clock=self.clock)

    @property
    def keys(self) -> list[str]:
        return [" ".join(keys) for kind, _, keys in self.runtime.log if kind == "keys"]

    @property
    def chosen(self) -> list[str | None]:
        return [d.chosen for d in self.runtime.panes[SESSION].answered]

    @property
    def waited(self) -> float:
        return self.clock.now - 1000.0


@pytest.mark.parametrize(("version", "dialogs", "keys"), [
    ("2.1.332", (trust_332, api_key_332), ["Down", "Enter", "Up", "Enter"]),
    ("2.1.197", (trust_197, api_key_197), ["Enter", "Up", "Enter"]),
    ("", (trust_332, api_key_332), ["Down", "Enter", "Up", "Enter"]),
])
def test_first_run_dialogs_are_answered_yes(version: str, dialogs: tuple[type[FakeDialog], ...], keys: list[str]) -> None:
    run = Run(*(make() for make in dialogs))
    assert run.wait(claude(version)) == ["trust", "api_key"]
    assert run.keys == keys and run.chosen == ["Yes, I trust this folder", "Yes"]
    assert run.waited < 4 * 1.5 + 1  # a key per steady screen, no timeout


def test_a_slow_cli_gets_one_key_at_a_time() -> None:
    # Each key shows only three captures later: Down Down would wrap back to `No, exit` and an
    # Enter then quits Claude, so no key goes out before the screen shows the last one.
    run = Run(trust_332(), api_key_332(), key_lag=3)
    assert run.wait(claude()) == ["trust", "api_key"]
    assert run.keys == ["Down", "Enter", "Up", "Enter"] and run.chosen == ["Yes, I trust this folder", "Yes"]


def test_a_dropped_key_is_sent_again_after_the_settle() -> None:
    run = Run(trust_332())
    dialog = run.runtime.panes[SESSION].dialogs[0]
    real, dropped = dialog.press, []

    def press(key: str) -> bool:
        if not dropped:  # the CLI drops the first key (its input was not attached yet)
            dropped.append(key)
            return False
        return real(key)

    dialog.press = press  # type: ignore[method-assign]
    assert run.wait(claude()) == ["trust"]
    assert run.keys == ["Down", "Down", "Enter"] and run.chosen == ["Yes, I trust this folder"]
    assert run.waited >= KEY_SETTLE  # the second Down only after the settle


def test_a_key_goes_only_to_a_steady_screen() -> None:
    run = Run(trust_332(), api_key_332())
    times: list[float] = []
    send = run.runtime.send_key

    def timed(session: str, *keys: str) -> None:
        times.append(run.clock.now)
        send(session, *keys)

    run.runtime.send_key = timed  # type: ignore[method-assign]
    run.wait(claude())
    assert len(times) == 4 and times[0] - 1000.0 >= STEADY
    assert all(later - earlier >= STEADY for earlier, later in itertools.pairwise(times))


def test_a_list_that_does_not_wrap_is_walked_the_direct_way() -> None:
    dialog = FakeDialog(["  Pick one"], ["A", "B", "C"], wraps=False, indent="  ")
    run = Run(dialog)
    backend = claude(dialogs=[DialogConfig(name="pick", match="Pick one", choose="^C$")])
    assert run.wait(backend) == ["pick"]
    assert run.keys == ["Up", "Down", "Down", "Enter"] and run.chosen == ["C"]


@pytest.mark.parametrize(("dialog", "backend"), [
    (codex_hooks, BackendConfig(bin="codex", screen="codex", ready_re="^› ", startup_timeout=30)),  # a person's call
    (lambda: FakeDialog(TRUST_ABOVE, ["No, exit", "Yes, proceed"]), claude()),  # the wanted option is not there
    (lambda: FakeDialog(["  Something new"], ["Maybe", "Perhaps"]), claude()),  # an unknown option list
])
def test_a_dialog_a_person_must_answer_gets_no_key(dialog: type[FakeDialog], backend: BackendConfig) -> None:
    run = Run(dialog())
    assert run.wait(backend) == []
    assert run.keys == [] and run.waited >= 30  # the whole startup_timeout: someone may answer it


def test_a_dialog_that_stays_up_is_confirmed_three_times() -> None:
    run = Run(trust_332())
    pane = run.runtime.panes[SESSION]
    pane.dialogs[0].press = lambda key: False  # type: ignore[method-assign]  # the CLI ignores every key
    pane.dialogs[0].cursor = 1
    assert run.wait(claude()) == ["trust", "trust", "trust"]
    assert run.keys == ["Enter"] * 3


def test_a_user_dialog_with_fixed_keys_gets_them() -> None:
    run = Run(FakeDialog(["  Pick one"], ["A", "B"], indent="  "))
    assert run.wait(claude(dialogs=[DialogConfig(name="pick", match="Pick one", keys=["Down", "Enter"])])) == ["pick"]
    assert run.keys == ["Down Enter"] and run.chosen == ["B"]


def test_no_dialog_returns_at_once_when_ready() -> None:
    run = Run()
    assert run.wait(claude()) == [] and run.keys == [] and run.waited == 0
