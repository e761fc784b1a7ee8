"""Built-in domain watchers over the orchestrator's own entities."""
