"""A scheduler that knows no feature: features register their kinds of job with it."""

from bot.scheduler.core import Scheduler
from bot.scheduler.jobs import (
    JobError,
    JobKind,
    PlannedRun,
    PublishError,
    RunContext,
    RunResult,
    Scope,
    publish,
    weekly_run,
)

__all__ = [
    "JobError",
    "JobKind",
    "PlannedRun",
    "PublishError",
    "RunContext",
    "RunResult",
    "Scheduler",
    "Scope",
    "publish",
    "weekly_run",
]
