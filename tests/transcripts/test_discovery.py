"""Where transcripts are (`transcripts.discovery`): Claude Code's project folder names.

Finding an agent's transcripts from agents.toml is tested through `agent-log`
(tests/cli/test_agent_log.py).
"""

from __future__ import annotations

import doctest
from pathlib import Path

from agent_orchestrator.transcripts import discovery
from agent_orchestrator.transcripts.discovery import claude_project_dir, claude_slug


def test_claude_slug_matches_claude_code() -> None:
    assert claude_slug("/work/main") == "-work-main"
    assert claude_slug(Path("/home/u/.config/my.app")) == "-home-u--config-my-app"
    # Claude replaces every non-alphanumeric (per UTF-16 unit), not only "/" and "."
    assert claude_slug("/tmp/pytest-of-root/test_x0/a b") == "-tmp-pytest-of-root-test-x0-a-b"
    assert claude_slug("/d/é😀") == "-d----"  # the emoji is two UTF-16 units
    # past 200 characters: first 200 + "-" + base36(abs(int32 hash)), checked against node
    assert claude_slug("/" + "a" * 250) == "-" + "a" * 199 + "-feo44x"
    home = Path("/home/u")
    assert claude_project_dir(home, Path("/w/x.y")) == home / ".claude/projects/-w-x-y"


def test_doctests() -> None:
    assert doctest.testmod(discovery).failed == 0
