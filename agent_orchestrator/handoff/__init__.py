"""Git as the coordination bus: plumbing, done markers, claim and review words."""
