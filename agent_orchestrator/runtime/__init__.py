"""The imperative adapters: tmux, the pane launcher, delivery, starting agents."""
