"""What an agent is doing, from three witnesses: the CLI's hook events, its session-status
file, and the screen — in that order of trust. Pure: data in, a verdict with its source out."""
