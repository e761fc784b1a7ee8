"""Shared fixtures: every test runs with its own HOME, so nothing touches a real ~/.claude*."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_CAPTURES = ROOT.parent / "shared" / "captures"


# The real-CLI test files, longest first (seconds each on 2 cores, `.ci/run --durations`): run
# first, so that pytest-xdist spreads them over the workers and the short tests fill in after —
# collected last, the two-host rehearsal ran alone at the end of a 15-minute suite.
_E2E_FIRST = ("test_outbox_rehearsal", "test_chaos", "test_two_hosts", "test_hooks_truth", "test_outbox", "test_examples_b",
              "test_rehearsal", "test_examples_a", "test_budget", "test_faults", "test_first_run", "test_codex")


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C as in a terminal: a shell starts a background job (`./tests/run.sh &`, a CI runner
    script) with SIGINT ignored, every process the tests start inherits that, and the tests that
    press Ctrl-C on a verb (`up`, `status --watch`, `agent-log -f`) would wait for an exit that
    never comes. A handler in this process is reset to the default in the processes it execs."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the end-to-end tests first, the longest files first (a stable sort: the rest keep
    their order)."""
    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("e2e") is None:
            return len(_E2E_FIRST) + 1
        stem = Path(str(item.fspath)).stem
        return _E2E_FIRST.index(stem) if stem in _E2E_FIRST else len(_E2E_FIRST)

    items.sort(key=rank)


@pytest.fixture(autouse=True)
def own_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Give the test a fresh, empty HOME and drop tmux/agent variables inherited from the caller."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var in ("TMUX", "TMUX_PANE", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "CODEX_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def socket() -> Iterator[str]:
    """A private tmux socket name; its server (and socket file) is removed after the test."""
    from tests.support.tmux import kill_server, private_socket

    name = private_socket()
    yield name
    kill_server(name)


@pytest.fixture(scope="session")
def claude() -> str:
    """Path of the real Claude Code CLI at the selected pin of the tested matrix (current unless
    AO_CLI_PINS=previous / AO_CLAUDE_VERSION=…): PATH's at that version, else .cache/cli's, else
    installed by scripts/ensure-claude.sh. Skips, with the reason, only when node/npm are absent."""
    from tests.support.clis import pinned_cli

    return pinned_cli("claude")


@pytest.fixture(scope="session")
def codex() -> str:
    """Path of the real Codex CLI at the selected pin of the tested matrix (see `claude`)."""
    from tests.support.clis import pinned_cli

    return pinned_cli("codex")


@pytest.fixture
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A private sshd on 127.0.0.1 and a free port (tests/support/sshd.py): the host `b` of the
    multi-host tests. Skips, with the reason, only when sshd cannot run here. Stopped (every
    connection killed, so ssh master connections end too) after the test."""
    from tests.support.sshd import Sshd, unavailable

    why = unavailable()
    if why:
        pytest.skip(why)
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.stop()
