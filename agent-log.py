#!/usr/bin/env python3
"""Thin launcher for `agent-log` from a checkout (the code lives in agent_orchestrator/)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agent_orchestrator.cli.agent_log import main

if __name__ == "__main__":
    main()
