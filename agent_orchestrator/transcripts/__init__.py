"""Claude Code / Codex transcript files: where they live, tailing, parsing, rendering."""
