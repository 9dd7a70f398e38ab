"""All the services of the bot, built once, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.db import Database
from bot.roadmap import Roadmap
from bot.services.assessments import AssessmentService
from bot.services.checkins import CheckinService
from bot.services.guilds import GuildService
from bot.services.insights import InsightsService
from bot.services.leaderboard import LeaderboardService
from bot.services.members import MemberService
from bot.services.mydata import MyDataService
from bot.services.overview import OverviewService
from bot.services.progress import ProgressService
from bot.services.reminders import ReminderService
from bot.services.reviews import ReviewService
from bot.services.rolesync import RoleSyncService


@dataclass(frozen=True)
class Services:
    """Every service of the bot, sharing one database and one clock."""

    progress: ProgressService
    members: MemberService
    leaderboard: LeaderboardService
    guilds: GuildService
    mydata: MyDataService
    checkins: CheckinService
    reminders: ReminderService
    reviews: ReviewService
    assessments: AssessmentService
    insights: InsightsService
    overview: OverviewService
    rolesync: RoleSyncService


def build(db: Database, roadmap: Roadmap, clock: Clock) -> Services:
    """Build the services once; the bot hands them to the cogs and the scheduler's jobs."""
    progress = ProgressService(db, roadmap, clock)
    reviews = ReviewService(db, roadmap, progress, clock)
    return Services(
        progress=progress,
        members=MemberService(db, clock),
        leaderboard=LeaderboardService(db, clock),
        guilds=GuildService(db, clock),
        mydata=MyDataService(db, clock),
        checkins=CheckinService(db, clock),
        reminders=ReminderService(db, roadmap, clock),
        reviews=reviews,
        assessments=AssessmentService(db, roadmap, clock),
        insights=InsightsService(db, roadmap, clock),
        overview=OverviewService(db, progress, reviews, clock),
        rolesync=RoleSyncService(db, roadmap, clock),
    )
