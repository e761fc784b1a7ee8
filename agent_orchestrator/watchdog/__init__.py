"""The watchdog: one driver that observes, runs pure policies, executes their actions and
persists its state. See `driver.py` for the tick and `policies/` for each behaviour."""
