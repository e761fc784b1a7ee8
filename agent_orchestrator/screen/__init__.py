"""What a pane shows: pure detectors over captured screens, per CLI version."""
