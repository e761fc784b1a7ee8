"""What an agent is and how it is launched: argv building, kickoff text, the demo CLI."""
