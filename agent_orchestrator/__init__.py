"""agent-orchestrator: run a team of AI coding agents in tmux and keep it working."""

__version__ = "0.1.0"
