"""`python -m agent_orchestrator` is the `agents` CLI."""

from agent_orchestrator.cli.entry import main

if __name__ == "__main__":
    main()
