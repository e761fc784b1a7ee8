"""`agents.toml`: schema, loading and validation."""

from agent_orchestrator.config.load import KICKOFF_SLOTS, ConfigError, load_config
from agent_orchestrator.config.schema import (
    AgentConfig,
    BackendConfig,
    Config,
    DefaultsConfig,
    LoopConfig,
    PhaseConfig,
    ServiceConfig,
    WatchdogConfig,
)

__all__ = [
    "KICKOFF_SLOTS",
    "AgentConfig",
    "BackendConfig",
    "Config",
    "ConfigError",
    "DefaultsConfig",
    "LoopConfig",
    "PhaseConfig",
    "ServiceConfig",
    "WatchdogConfig",
    "load_config",
]
