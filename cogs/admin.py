"""`/config`: server settings, level roles and corrections, for Manage Server only."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import MilestoneBot
from bot.defaults import (
    ASSESS_EVERY_MAX_WEEKS,
    ASSESS_EVERY_WEEKS,
    CHECKIN_MAX_OPEN_HOURS,
    CHECKIN_OPEN_HOURS,
    LEVEL_COUNT,
    LEVEL_THRESHOLD,
    REVIEW_CLAIM,
)
from bot.errors import UserError
from bot.levelups import apply_change, role_problem
from bot.roadmap import CATEGORIES, CATEGORY_LABELS
from bot.rolesync import RoleSyncer, describe, reporter
from bot.services.catalog import choice_label, search
from bot.services.checkins import OPEN_JOB, CycleInfo
from bot.services.insights import InactivePage
from bot.services.reminders import POST_JOB
from bot.services.reviews import ReviewPolicy
from bot.ui.insights import InsightsView, insights_embeds
from bot.ui.options import DAY_CHOICES, LevelOption, TimeOfDay, Timezone
from bot.ui.render import embed, level_name, lines_field, when
from bot.weekly import WeeklyTime, format_when

AUDIT_VERBS = {
    "grant": "granted `{item}` to",
    "revoke": "took `{item}` from",
    "approve": "approved `{item}` of",
    "changes": "asked for changes on `{item}` of",
    "reject": "rejected `{item}` of",
}


def review_summary(policy: ReviewPolicy) -> str:
    """What needs review, who reviews and where submissions go, in a few lines."""
    if not policy.active:
        needs = "nothing: every item counts as soon as a member completes it"
    else:
        names = [CATEGORY_LABELS[c] for c in CATEGORIES if c in policy.categories]
        needs = (", ".join(names) + " items") if names else "every item"
        needs += f" from level {policy.from_level} on" if policy.from_level else " at every level"
    roles = " ".join(f"<@&{r}>" for r in policy.role_ids) or "no reviewer role: admins only"
    channel = f"<#{policy.channel_id}>" if policy.channel_id else "none (reviewers use /review)"
    return f"Needs review: {needs}\nReviewers: {roles}\nReview channel: {channel}"


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Admin(commands.GroupCog, group_name="config"):
    """Server settings for admins (Manage Server)."""

    def __init__(self, bot: MilestoneBot) -> None:
        self.bot = bot
        self.syncer = RoleSyncer(bot)
        self._resumed = False
        super().__init__()

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        # Role syncs under way when the bot stopped go on once it is connected (once: READY
        # comes again after a reconnect).
        if not self._resumed:
            self._resumed = True
            await self.syncer.resume()

    async def cog_unload(self) -> None:
        await self.syncer.stop()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # Discord hides /config from members without Manage Server, but a server can
        # override that in its integration settings: check again at run time.
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        if not interaction.permissions.manage_guild:
            raise app_commands.MissingPermissions(["manage_guild"])
        return True

    @app_commands.command(name="show")
    async def show(self, interaction: discord.Interaction) -> None:
        """Show every setting of this server."""
        assert interaction.guild is not None
        await interaction.response.send_message(
            embed=await self.config_embed(interaction.guild), ephemeral=True
        )

    async def config_embed(self, guild: discord.Guild) -> discord.Embed:
        """Every setting of the server in one embed."""
        cfg = await self.bot.services.guilds.config(guild.id)
        e = embed(f"Settings of {guild.name}")
        e.add_field(name="Level threshold", value=f"{cfg.level_threshold}% of each checklist")
        e.add_field(
            name="Level-up announcements",
            value=f"<#{cfg.announce_channel_id}>"
            if cfg.announce_channel_id
            else "where they happen",
        )
        e.add_field(name="Server timezone", value=cfg.timezone or "UTC (not set)")
        e.add_field(
            name="Pictures",
            value="on: progress and leaderboard cards, check-in charts"
            if cfg.cards
            else "off: text only (/config cards on)",
        )
        roles = [
            f"L{r.level} · <@&{r.role_id}>"
            + (
                f"\n  ⚠️ {r.last_error} ({when(r.last_error_at, 'R')})"
                if r.last_error and r.last_error_at
                else ""
            )
            for r in cfg.level_roles
        ]
        e.add_field(
            name="Level roles",
            value=lines_field(roles) if roles else "none: add with /config level-role",
            inline=False,
        )
        for name, value in await self.schedule_fields(guild.id):
            e.add_field(name=name, value=value, inline=False)
        policy = await self.bot.services.reviews.policy(guild.id)
        e.add_field(name="Reviews", value=review_summary(policy), inline=False)
        every = await self.bot.services.assessments.cadence(guild.id)
        e.add_field(
            name="Self-assessment reminder",
            value=f"every {every} week(s)" if every else "off: set with /config assess-every",
        )
        audit = [
            f"{when(a.created_at, 'd')} "
            + (f"<@{a.actor_id}> " if a.actor_id is not None else "a former reviewer ")
            + AUDIT_VERBS.get(a.action, a.action + " `{item}` of").format(item=a.item_id)
            + f" <@{a.member_id}>"
            for a in cfg.recent_audit
        ]
        e.add_field(
            name="Latest corrections and reviews",
            value=lines_field(audit) if audit else "none",
            inline=False,
        )
        sync = await self.bot.services.rolesync.state(guild.id)
        if sync is not None:
            e.add_field(name="Role sync", value=describe(sync), inline=False)
        if cfg.last_error and cfg.last_error_at:
            e.add_field(
                name="Last problem",
                value=f"⚠️ {cfg.last_error} ({when(cfg.last_error_at, 'R')})",
                inline=False,
            )
        return e

    async def schedule_fields(self, guild_id: int) -> list[tuple[str, str]]:
        """Check-in and reminder settings with their next run times."""
        upcoming = {
            run.kind: run.due_at for run in await self.bot.scheduler.upcoming((guild_id, None))
        }
        fields = []
        c = await self.bot.services.checkins.settings(guild_id)
        checkins = c.active if c else None
        if c is None or checkins is None:
            fields.append(("Weekly check-ins", "off: set up with /config checkins"))
        else:
            nxt = upcoming.get(OPEN_JOB)
            fields.append(
                (
                    "Weekly check-ins",
                    f"<#{c.channel_id}> every {checkins.describe()}, open {c.open_hours} h"
                    + (f"\nnext opens {format_when(nxt, checkins.timezone)}" if nxt else ""),
                )
            )
        r = await self.bot.services.reminders.settings(guild_id)
        posts = r.active if r else None
        if r is None or posts is None:
            fields.append(("Learning reminders", "off: set up with /config reminders"))
        else:
            nxt = upcoming.get(POST_JOB)
            fields.append(
                (
                    "Learning reminders",
                    f"<#{r.channel_id}> every {posts.describe()}"
                    + (f"\nnext {format_when(nxt, posts.timezone)}" if nxt else ""),
                )
            )
        return fields

    def _check_channel(self, guild: discord.Guild, channel: discord.TextChannel) -> None:
        perms = channel.permissions_for(guild.me)
        if not (perms.view_channel and perms.send_messages and perms.embed_links):
            raise UserError(
                f"I cannot post in {channel.mention}: give me View Channel, Send Messages and "
                "Embed Links there, or pick another channel."
            )

    @app_commands.command(name="checkins")
    @app_commands.describe(
        channel="Where the prompt and the summary are posted",
        day="Weekday the check-in opens",
        time="Time it opens, as HH:MM (24 h) in the timezone below",
        timezone="The server's timezone, e.g. Europe/Berlin",
        open_hours=f"How long it stays open, 1 to {CHECKIN_MAX_OPEN_HOURS} hours "
        f"(default {CHECKIN_OPEN_HOURS})",
    )
    @app_commands.choices(day=DAY_CHOICES)
    async def checkins(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        day: int,
        time: TimeOfDay,
        timezone: Timezone,
        open_hours: app_commands.Range[int, 1, CHECKIN_MAX_OPEN_HOURS] = CHECKIN_OPEN_HOURS,
    ) -> None:
        """Set the weekly check-in schedule."""
        assert interaction.guild is not None
        self._check_channel(interaction.guild, channel)
        guild_id = interaction.guild.id
        await self.bot.services.checkins.configure(
            guild_id,
            channel_id=channel.id,
            schedule=WeeklyTime(day, time, timezone),
            open_hours=open_hours,
        )
        await self.bot.scheduler.reschedule(guild_id)
        status = await self.bot.services.checkins.status(guild_id)
        nxt = status.next_opens_at
        await interaction.response.send_message(
            f"Weekly check-ins in {channel.mention}, open for {open_hours} h."
            + (f" The first opens {format_when(nxt, status.timezone)}." if nxt else "")
            + " `/config checkin-now` opens one at once.",
            ephemeral=True,
        )

    @app_commands.command(name="checkins-disable")
    async def checkins_disable(self, interaction: discord.Interaction) -> None:
        """Stop weekly check-ins (an open one still closes with its summary)."""
        assert interaction.guild_id is not None
        await self.bot.services.checkins.disable(interaction.guild_id)
        await self.bot.scheduler.reschedule(interaction.guild_id)
        await interaction.response.send_message("Weekly check-ins are off.", ephemeral=True)

    @app_commands.command(name="checkin-now")
    async def checkin_now(self, interaction: discord.Interaction) -> None:
        """Open a check-in cycle at once."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        cycle = await self.bot.scheduler.run_now(OPEN_JOB, interaction.guild_id)
        assert isinstance(cycle, CycleInfo)
        await interaction.followup.send(
            f"Check-in opened in <#{cycle.channel_id}>; it closes {when(cycle.closes_at)}.",
            ephemeral=True,
        )

    @app_commands.command(name="reminders")
    @app_commands.describe(
        channel="Where the weekly continuous-learning post goes",
        day="Weekday of the post",
        time="Time of the post, as HH:MM (24 h)",
        timezone="Timezone of that time (default: the server's)",
    )
    @app_commands.choices(day=DAY_CHOICES)
    async def reminders(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        day: int,
        time: TimeOfDay,
        timezone: Timezone | None = None,
    ) -> None:
        """Post a weekly continuous-learning reminder in a channel."""
        assert interaction.guild is not None
        self._check_channel(interaction.guild, channel)
        guild_id = interaction.guild.id
        settings = await self.bot.services.reminders.configure(
            guild_id, channel_id=channel.id, weekday=day, time=time, timezone=timezone
        )
        await self.bot.scheduler.reschedule(guild_id)
        schedule = settings.schedule
        assert schedule is not None
        await interaction.response.send_message(
            f"Every {schedule.describe().replace(' ', ' at ', 1)} I will post a "
            f"continuous-learning reminder in {channel.mention}.",
            ephemeral=True,
        )

    @app_commands.command(name="reminders-disable")
    async def reminders_disable(self, interaction: discord.Interaction) -> None:
        """Stop the weekly reminder posts (members' own DMs go on)."""
        assert interaction.guild_id is not None
        await self.bot.services.reminders.disable(interaction.guild_id)
        await self.bot.scheduler.reschedule(interaction.guild_id)
        await interaction.response.send_message("Weekly reminder posts are off.", ephemeral=True)

    @app_commands.command(name="level-role")
    @app_commands.describe(
        level=f"The level, 1 to {LEVEL_COUNT}", role="The role members get on reaching it"
    )
    async def level_role(
        self, interaction: discord.Interaction, level: LevelOption, role: discord.Role
    ) -> None:
        """Give a role to members who reach a level (and take it when they lose it)."""
        assert interaction.guild is not None
        if role.is_default():
            raise UserError("@everyone cannot be a level role: pick or create a real role.")
        await self.bot.services.guilds.set_level_role(
            interaction.guild.id, level, role.id, interaction.user.id
        )
        text = (
            f"Members who reach **{level_name(self.bot.roadmap, level)}** will get {role.mention}."
        )
        problem = role_problem(interaction.guild, role)
        if problem:
            await self.bot.services.guilds.record_role_error(interaction.guild.id, level, problem)
            text += f"\n⚠️ But I cannot give it yet: {problem}."
        text += "\nRun `/config sync-roles` to give it to members already at that level."
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="level-role-clear")
    @app_commands.describe(level="The level whose role to stop giving")
    async def level_role_clear(self, interaction: discord.Interaction, level: LevelOption) -> None:
        """Stop giving a level's role (members who have it keep it)."""
        assert interaction.guild_id is not None
        role_id = await self.bot.services.guilds.clear_level_role(interaction.guild_id, level)
        if role_id is None:
            raise UserError(f"Level {level} has no role set, so there is nothing to clear.")
        await interaction.response.send_message(
            f"Level {level} no longer gives <@&{role_id}>. Nobody loses it.", ephemeral=True
        )

    @app_commands.command(name="announce")
    @app_commands.describe(
        channel="Where level-ups are announced; leave empty for where they happen"
    )
    async def announce(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        """Choose where level-ups are announced."""
        assert interaction.guild is not None
        if channel is not None and not channel.permissions_for(interaction.guild.me).send_messages:
            raise UserError(
                f"I cannot send messages in {channel.mention}: give me Send Messages there first."
            )
        await self.bot.services.guilds.set_announce_channel(
            interaction.guild.id, channel.id if channel else None
        )
        where = channel.mention if channel else "the channel where the level was reached"
        await interaction.response.send_message(
            f"Level-ups will be announced in {where}.", ephemeral=True
        )

    @app_commands.command(
        name="level-threshold",
        description="Set the share of each level's checklist needed to reach it "
        f"(default {LEVEL_THRESHOLD})",
    )
    @app_commands.describe(percent="Share of each level's checklist needed to reach it (1-100)")
    async def level_threshold(
        self, interaction: discord.Interaction, percent: app_commands.Range[int, 1, 100]
    ) -> None:
        """Set the share of each level's checklist needed to reach it."""
        assert interaction.guild_id is not None
        await self.bot.services.guilds.set_threshold(interaction.guild_id, percent)
        await interaction.response.send_message(
            f"Members now need {percent}% of each level's checklist. It applies at each member's "
            "next change; `/config sync-roles` applies it to everyone now.",
            ephemeral=True,
        )

    @app_commands.command(name="cards")
    @app_commands.describe(
        state="on: progress and leaderboard cards and check-in charts; off: text"
    )
    @app_commands.choices(
        state=[
            app_commands.Choice(name="on", value="on"),
            app_commands.Choice(name="off", value="off"),
        ]
    )
    async def cards(self, interaction: discord.Interaction, state: str) -> None:
        """Turn pictures (progress and leaderboard cards, check-in charts) on or off."""
        assert interaction.guild_id is not None
        if state not in ("on", "off"):
            raise UserError("Pick on or off from the list.")
        on = state == "on"
        await self.bot.services.guilds.set_cards(interaction.guild_id, on)
        await interaction.response.send_message(
            "Pictures are on: answers carry their card or chart beside the text, unless a "
            "member turned them off with `/profile cards:False`."
            if on
            else "Pictures are off: answers are text only.",
            ephemeral=True,
        )

    @app_commands.command(name="sync-roles")
    async def sync_roles(self, interaction: discord.Interaction) -> None:
        """Recompute every member's level and give or take level roles to match."""
        assert interaction.guild is not None
        guild_id = interaction.guild.id
        await interaction.response.defer(ephemeral=True, thinking=True)
        state, started = await self.bot.services.rolesync.start(guild_id, interaction.user.id)
        if not started and self.syncer.running(guild_id):
            await interaction.edit_original_response(
                content="A role sync is already running. " + describe(state)
            )
            return
        # Runs in the background: the answer is edited as it goes, /config show follows it.
        self.syncer.start(guild_id, reporter(interaction))

    @app_commands.command(name="review")
    @app_commands.describe(
        projects="Projects milestones need a reviewer",
        professional="Professional milestones need a reviewer",
        checklist="Checklist items need a reviewer",
        from_level=f"Only items from this level on (1 to {LEVEL_COUNT}; 0: every level)",
        reviewer_role="Add a role whose members may review",
        remove_role="Remove a reviewer role",
        channel="Post each submission here, with decision buttons",
        channel_off="Stop posting submissions in a channel",
    )
    async def review(
        self,
        interaction: discord.Interaction,
        projects: bool | None = None,
        professional: bool | None = None,
        checklist: bool | None = None,
        from_level: app_commands.Range[int, 0, LEVEL_COUNT] | None = None,
        reviewer_role: discord.Role | None = None,
        remove_role: discord.Role | None = None,
        channel: discord.TextChannel | None = None,
        channel_off: bool = False,
    ) -> None:
        """Choose which items need a reviewer's approval and who may review."""
        assert interaction.guild is not None
        if channel is not None:
            self._check_channel(interaction.guild, channel)
        if reviewer_role is not None and reviewer_role.is_default():
            raise UserError("@everyone cannot be the reviewer role: pick or create a real role.")
        categories = {
            name: on
            for name, on in (
                ("projects", projects),
                ("professional", professional),
                ("checklist", checklist),
            )
            if on is not None
        }
        policy = await self.bot.services.reviews.configure(
            interaction.guild.id,
            categories=categories,
            from_level=from_level,
            channel_id=channel.id if channel else None,
            clear_channel=channel_off,
            add_role=reviewer_role.id if reviewer_role else None,
            remove_role=remove_role.id if remove_role else None,
        )
        hours = int(REVIEW_CLAIM.total_seconds() // 3600)
        text = review_summary(policy) + (
            "\nItems already done stay done; the settings apply to what members complete next. "
            f"A claimed submission not decided within {hours} hours goes back to the queue."
        )
        if policy.active and not policy.role_ids:
            text += "\n⚠️ Only admins can review until you add a `reviewer_role`."
        await interaction.response.send_message(text, ephemeral=True)

    async def _correct(
        self, interaction: discord.Interaction, member: discord.Member, milestone: str, grant: bool
    ) -> None:
        assert interaction.guild is not None
        if member.bot:
            raise UserError("Bots do not have a roadmap: pick a member.")
        service = self.bot.services.progress
        fn = service.complete if grant else service.undo
        change = await fn(
            interaction.guild.id,
            member.id,
            milestone,
            display_name=member.display_name,
            actor_id=interaction.user.id,
        )
        verb = "granted to" if grant else "revoked from"
        if not change.changed:
            state = "already has" if grant else "does not have"
            text = f"{member.mention} {state} **{change.item.title}**: nothing changed."
        else:
            text = f"**{change.item.title}** {verb} {member.mention}. Logged in `/config show`."
            if change.linked:
                text += "\nWith it: " + ", ".join(f"**{i.title}**" for i in change.linked)
            if change.new_level != change.old_level:
                text += f"\nThey are now at **{level_name(self.bot.roadmap, change.new_level)}**."
        await interaction.response.send_message(text, ephemeral=True)
        await apply_change(self.bot, interaction.guild, member, change, interaction.channel)  # type: ignore[arg-type]

    @app_commands.command(name="grant")
    @app_commands.describe(member="Whose progress to correct", milestone="The item to mark done")
    async def grant(
        self, interaction: discord.Interaction, member: discord.Member, milestone: str
    ) -> None:
        """Mark an item done for a member (kept in the audit log)."""
        await self._correct(interaction, member, milestone, grant=True)

    @app_commands.command(name="revoke")
    @app_commands.describe(
        member="Whose progress to correct", milestone="The item to mark not done"
    )
    async def revoke(
        self, interaction: discord.Interaction, member: discord.Member, milestone: str
    ) -> None:
        """Mark an item not done for a member (kept in the audit log)."""
        await self._correct(interaction, member, milestone, grant=False)

    @app_commands.command(name="insights")
    async def insights(self, interaction: discord.Interaction) -> None:
        """See where members stand and stall: levels, checklist items, inactivity, averages."""
        assert interaction.guild is not None
        guild = interaction.guild
        await interaction.response.defer(ephemeral=True, thinking=True)
        service = self.bot.services.insights
        data = await service.overview(guild.id)

        async def read(page: int) -> InactivePage:
            return await service.inactive_page(guild.id, page)

        view = InsightsView(interaction.user.id, read, data.inactive_shown)
        view.message = await interaction.followup.send(
            embeds=insights_embeds(self.bot.roadmap, guild.name, data),
            view=view,
            ephemeral=True,
            wait=True,
        )

    @app_commands.command(
        name="assess-every",
        description="Remind members to assess themselves every N weeks "
        f"(0 = never, default {ASSESS_EVERY_WEEKS})",
    )
    @app_commands.describe(
        weeks=f"Weeks between self-assessments, 0 (never) to {ASSESS_EVERY_MAX_WEEKS}"
    )
    async def assess_every(
        self,
        interaction: discord.Interaction,
        weeks: app_commands.Range[int, 0, ASSESS_EVERY_MAX_WEEKS],
    ) -> None:
        """Remind members to assess themselves every N weeks (0 = never)."""
        assert interaction.guild_id is not None
        await self.bot.services.assessments.set_cadence(interaction.guild_id, weeks)
        text = (
            f"Members whose last self-assessment is {weeks} or more week(s) old get a line "
            "about `/assess rate` in their reminder DM, and the check-in prompt mentions it."
            if weeks
            else "No more self-assessment reminders in DMs or check-in prompts."
        )
        await interaction.response.send_message(text, ephemeral=True)

    @grant.autocomplete("milestone")
    @revoke.autocomplete("milestone")
    async def milestone_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        items = search(self.bot.roadmap, current)
        return [app_commands.Choice(name=choice_label(i), value=i.id) for i in items]


async def setup(bot: MilestoneBot) -> None:
    """Load the cog."""
    await bot.add_cog(Admin(bot))
