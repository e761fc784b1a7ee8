"""Claude Code / Codex transcript files (formats checked against Claude Code 2.1.197, Codex 0.169.0).

``discovery`` where they live; ``tail`` incremental JSON-lines reading; ``records`` what their
records mean (shared by the log parsers and the token scanner); ``events``, ``claude``, ``codex``
transcripts as log events; ``reader`` following files as events; ``render`` output lines.
"""
