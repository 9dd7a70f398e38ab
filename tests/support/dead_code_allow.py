"""Names the dead-code check (vulture, in `make lint`) must not report, and why.

Each line "uses" a name that is read from outside Python's view: a database column, a field
that YAML fills, or a test-facing property.
"""

from bot.db.migrate import MIGRATION_LOCK, MIGRATION_LOCK_WAIT
from bot.db.models import Assessment, Base, Completion, JobRun, RoleSync
from bot.roadmap.loader import _PrinciplesFile, _RawLevel
from bot.services import insights
from bot.services.progress import ProgressChange
from bot.services.reminders import ReminderSettings

_ = Base.metadata  # Alembic and the migration test read it
_ = Completion.granted_by, JobRun.job_key, JobRun.claimed_at  # columns: written, kept
_ = _RawLevel.knowledge, _RawLevel.technical, _RawLevel.professional  # read by category name
_ = _PrinciplesFile.intro  # YAML: the intro is for readers of data/
_ = ProgressChange.levels_gained, ProgressChange.levels_lost  # read by the service tests
_ = MIGRATION_LOCK, MIGRATION_LOCK_WAIT  # read by migrations/env.py (not checked)
_ = ReminderSettings.own_timezone  # the server's own reminder timezone, shown by tests
_ = Assessment.saved_at  # column: written, exported
_ = RoleSync.finished_at  # column: written by a Core statement, shown by /config show
_ = insights.stored_counts  # the counters as kept, compared with a recount by tests
