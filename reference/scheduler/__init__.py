"""kube-scheduler: filter and score plugins (shared with the laws in `properties.placement`),
a readable cycle (`spec`), a fast one (`fast`), preemption, and the controller that runs them."""

from reference.scheduler.controller import SchedulerController
from reference.scheduler.profile import ConfigError, Profile, SchedulerConfig, parse_config
from reference.scheduler.spec import Decision, SpecScheduler

__all__ = [
    "ConfigError",
    "Decision",
    "Profile",
    "SchedulerConfig",
    "SchedulerController",
    "SpecScheduler",
    "parse_config",
]
