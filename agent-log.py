#!/usr/bin/env python3
"""Thin launcher for `agent-log` from a checkout (the code lives in agent_orchestrator/)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

try:
    from agent_orchestrator.cli.agent_log import main
except ModuleNotFoundError as exc:  # run by a Python without the dependencies (no .venv)
    if (exc.name or "").partition(".")[0] == "agent_orchestrator":
        raise
    from agent_orchestrator.bootstrap_hint import missing_dependency

    sys.stderr.write(missing_dependency(exc, "agent-log", ROOT) + "\n")
    sys.exit(1)

if __name__ == "__main__":
    main()
