"""Names of bot/ui/cards the dead-code check (vulture) must not report, and why.

The cards package is built ahead of its cogs (issue 11): the renderer's chart methods wait
for /checkin and /assess to use them; the rest is read by the card tests, the benchmark and
the example script, which vulture does not scan.
"""

from bot.ui.cards import CardRenderer, samples
from bot.ui.cards.progress import cell_origin
from bot.ui.cards.renderer import CacheStats

_ = CardRenderer.participation, CardRenderer.assessment  # the check-in and /assess cogs
_ = CardRenderer.stats, CacheStats.hits, CacheStats.misses, CacheStats.capacity  # tests
_ = cell_origin  # where the heatmap draws a day: the tests read its pixels
_ = samples.sample_progress, samples.sample_leaderboard, samples.sample_participation
_ = samples.sample_hours, samples.sample_assessment  # tests, benchmark, examples
