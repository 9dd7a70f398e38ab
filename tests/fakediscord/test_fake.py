"""Self-tests of tests/fakediscord: a tiny real discord.py bot against the fake, end to end."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord import app_commands
from discord.ext import commands

from tests.fakediscord import (
    MANAGE_ROLES,
    CommandNotAllowedError,
    FakeDiscord,
    FakeGuild,
    FakeMember,
    message_text,
)

FRUITS = ["apple", "banana", "cherry", "spark", "sparkling"]


class ConfirmView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=30)

    @discord.ui.button(label="Confirm", custom_id="panel:confirm", style=discord.ButtonStyle.green)
    async def confirm(
        self, interaction: discord.Interaction, button: discord.ui.Button[ConfirmView]
    ) -> None:
        await interaction.response.edit_message(
            content=f"confirmed by {interaction.user.name}", view=None
        )
        self.stop()

    @discord.ui.button(label="Later", custom_id="panel:later")
    async def later(
        self, interaction: discord.Interaction, button: discord.ui.Button[ConfirmView]
    ) -> None:
        await interaction.response.defer()  # type 6: deferred update of this message
        await interaction.edit_original_response(content="done later", view=None)

    @discord.ui.select(
        custom_id="panel:pick",
        options=[discord.SelectOption(label=f, value=f) for f in ("apple", "banana")],
    )
    async def pick(
        self, interaction: discord.Interaction, select: discord.ui.Select[ConfirmView]
    ) -> None:
        await interaction.response.send_message(f"picked {select.values[0]}", ephemeral=True)


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(
        label="Your feedback", custom_id="feedback:text"
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks: {self.text.value}", ephemeral=True)


class MilestoneGroup(app_commands.Group):
    def __init__(self) -> None:
        super().__init__(name="milestone", description="Milestones")

    @app_commands.command(name="complete", description="Complete a milestone")
    async def complete(
        self, interaction: discord.Interaction, milestone: str, hours: int = 1, public: bool = False
    ) -> None:
        await interaction.response.send_message(
            embed=discord.Embed(title="Milestone complete", description=milestone).add_field(
                name="hours", value=str(hours * 2)
            ),
            ephemeral=not public,
        )

    @complete.autocomplete("milestone")
    async def complete_ac(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=f, value=f) for f in FRUITS if f.startswith(current)]


class TinyBot(commands.Bot):
    def __init__(self) -> None:
        super().__init__(
            command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.1
        )
        self.errors: list[BaseException] = []
        self.seen: list[discord.Message] = []
        self.tree.add_command(MilestoneGroup())
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]

        @self.tree.command(name="panel", description="A panel with a button")
        async def panel(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Press it", view=ConfirmView())

        @self.tree.command(name="feedback", description="Opens a modal")
        async def feedback(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(FeedbackModal())

        @self.tree.command(name="slow", description="Defers, then follows up")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await asyncio.sleep(0.01)
            await interaction.followup.send("done slowly", embed=discord.Embed(title="Slow result"))

        @self.tree.command(name="nap", description="Answers after a nap")
        async def nap(interaction: discord.Interaction, seconds: float) -> None:
            await asyncio.sleep(seconds)
            await interaction.response.send_message("awake")

        @self.tree.command(name="private", description="Defers publicly, answers privately")
        async def private(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.delete_original_response()
            await interaction.followup.send("only you see this", ephemeral=True)

        @self.tree.command(name="grant", description="Adds a role to the invoker")
        async def grant(interaction: discord.Interaction, role: discord.Role) -> None:
            assert isinstance(interaction.user, discord.Member)
            await interaction.user.add_roles(role)
            await interaction.response.send_message(f"granted {role.name}")

        @self.tree.command(name="announce", description="Posts in a channel")
        async def announce(
            interaction: discord.Interaction, channel: discord.TextChannel, text: str
        ) -> None:
            target = self.get_channel(channel.id)
            assert isinstance(target, discord.TextChannel)
            await interaction.response.defer(ephemeral=True)
            try:
                await target.send(text)
            except discord.Forbidden as exc:
                self.errors.append(exc)
                await interaction.followup.send("cannot post there", ephemeral=True)
                return
            await interaction.edit_original_response(content=f"posted in {target.mention}")

        @self.tree.command(name="purge", description="Admins only")
        @app_commands.default_permissions(manage_guild=True)
        async def purge(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("purged")

        @self.tree.context_menu(name="Inspect")
        async def inspect(interaction: discord.Interaction, member: discord.Member) -> None:
            await interaction.response.send_message(f"inspected {member.name}", ephemeral=True)

        @self.listen()
        async def on_message(message: discord.Message) -> None:
            if not message.author.bot:
                self.seen.append(message)

        @self.tree.command(name="export", description="Sends a JSON file")
        async def export(interaction: discord.Interaction) -> None:
            blob = json.dumps({"ok": True}).encode()
            await interaction.response.send_message(
                "your export",
                file=discord.File(io.BytesIO(blob), filename="export.json"),
                ephemeral=True,
            )

        @self.tree.command(name="poke", description="DMs a user")
        async def poke(interaction: discord.Interaction, user: discord.User) -> None:
            try:
                await user.send(f"poked by {interaction.user.name}")
            except discord.Forbidden as exc:
                self.errors.append(exc)
                await interaction.response.send_message("their DMs are closed")
                return
            await interaction.response.send_message(f"poked {user.name}")

    async def _on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        self.errors.append(error)


@dataclass
class Env:
    fake: FakeDiscord
    bot: TinyBot
    guild: FakeGuild
    alice: FakeMember


@pytest_asyncio.fixture
async def env() -> AsyncIterator[Env]:
    fake = FakeDiscord()
    await fake.start()
    fake.install()
    guild = fake.add_guild(name="Data Guild")
    alice = fake.add_member(guild.id, name="alice")
    bot = TinyBot()
    task = asyncio.create_task(bot.start("fake-token"))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 5)
        await bot.tree.sync()
        yield Env(fake, bot, guild, alice)
    finally:
        await bot.close()
        await asyncio.wait_for(task, 5)
        await fake.close()
        fake.uninstall()
    assert not fake.unknown_requests, fake.unknown_requests


@pytest.mark.asyncio
async def test_startup_and_sync(env: Env) -> None:
    fake, bot = env.fake, env.bot
    assert (
        bot.user is not None
        and str(bot.user.id) == fake.bot_user["id"]
        and bot.user.id == fake.bot_id
    )
    assert bot.application_id == fake.application_id
    guild = bot.get_guild(env.guild.id)
    assert guild is not None and guild.name == "Data Guild" and guild.me is not None
    assert fake.command_sync_count == 1
    names = {c["name"] for c in fake.commands()}
    assert {"milestone", "panel", "feedback", "slow", "grant", "announce"} <= names
    assert all(int(c["id"]) > 0 for c in fake.commands())
    assert [r.path for r in fake.requests[:2]] == ["/users/@me", "/oauth2/applications/@me"]


@pytest.mark.asyncio
async def test_slash_with_subcommand_and_typed_options(env: Env) -> None:
    res = await env.fake.slash(
        env.guild.id,
        env.alice.id,
        "milestone complete",
        {"milestone": "l1.check.python", "hours": 21},
    )
    cb = await res.response()
    assert cb["type"] == 4
    assert res.ephemeral
    msg = await res.final()
    assert msg["embeds"][0]["title"] == "Milestone complete"
    assert "l1.check.python" in res.text() and "42" in res.text()
    opts = res.payload["data"]["options"][0]["options"]
    assert {o["name"]: o["type"] for o in opts} == {"milestone": 3, "hours": 4}

    public = await env.fake.slash(
        env.guild.id, env.alice.id, "milestone complete", {"milestone": "x", "public": True}
    )
    await public.final()
    assert not public.ephemeral


@pytest.mark.asyncio
async def test_autocomplete(env: Env) -> None:
    res = await env.fake.autocomplete(
        env.guild.id,
        env.alice.id,
        "milestone complete",
        {"milestone": "spark"},
        focused="milestone",
    )
    cb = await res.response()
    assert cb["type"] == 8
    assert [c["value"] for c in await res.choices()] == ["spark", "sparkling"]


@pytest.mark.asyncio
async def test_button_and_select(env: Env) -> None:
    fake = env.fake
    res = await fake.slash(env.guild.id, env.alice.id, "panel")
    msg = await res.final()
    assert res.message is msg and msg["components"]
    picked = await fake.select(env.guild.id, env.alice.id, msg, "panel:pick", ["banana"])
    assert (await picked.final())["content"] == "picked banana"
    assert picked.ephemeral

    click = await fake.click(env.guild.id, env.alice.id, msg, "panel:confirm")
    assert (await click.response())["type"] == 7
    final = await click.final()
    assert final["content"] == "confirmed by alice"
    assert final["components"] == []
    assert msg["content"] == "confirmed by alice"  # the recorded message itself was updated
    with pytest.raises(AssertionError):
        await fake.click(env.guild.id, env.alice.id, msg, "panel:confirm")  # button is gone


@pytest.mark.asyncio
async def test_modal_roundtrip(env: Env) -> None:
    res = await env.fake.slash(env.guild.id, env.alice.id, "feedback")
    modal = await res.modal()
    assert res.type == 9 and modal["custom_id"]
    sub = await env.fake.submit_modal(
        env.guild.id, env.alice.id, modal["custom_id"], {"feedback:text": "great bot"}
    )
    assert (await sub.final())["content"] == "thanks: great bot"
    assert sub.ephemeral
    with pytest.raises(AssertionError):
        await env.fake.submit_modal(env.guild.id, env.alice.id, modal["custom_id"], {"nope": "x"})


@pytest.mark.asyncio
async def test_defer_then_followup(env: Env) -> None:
    res = await env.fake.slash(env.guild.id, env.alice.id, "slow")
    assert (await res.response())["type"] == 5
    assert res.ephemeral
    final = await res.final()
    assert final["content"] == "done slowly"
    assert "Slow result" in res.text()
    assert len(await res.followups(1)) == 1


@pytest.mark.asyncio
async def test_role_grant_mutates_state_and_respects_permissions(env: Env) -> None:
    fake, guild = env.fake, env.guild
    junior = fake.add_role(guild.id, "Junior DE", position=1)
    # Without Manage Roles the real API answers 403 / 50013.
    res = await fake.slash(guild.id, env.alice.id, "grant", {"role": junior.id})
    await _until(lambda: bool(env.bot.errors))
    assert not res.responded
    assert isinstance(env.bot.errors[-1].__cause__, discord.Forbidden)

    mod = fake.add_role(guild.id, "Bot", position=5, permissions=MANAGE_ROLES)
    fake.set_bot_roles(guild.id, [mod.id])
    res = await fake.slash(guild.id, env.alice.id, "grant", {"role": junior})
    assert (await res.final())["content"] == "granted Junior DE"
    assert fake.member_roles(guild.id, env.alice.id) == {junior.id}
    assert fake.requests_to("PUT", rf"/guilds/{guild.id}/members/{env.alice.id}/roles/{junior.id}")
    me = env.bot.get_guild(guild.id).me  # type: ignore[union-attr]
    assert me.guild_permissions.manage_roles  # bot's own member was updated over the gateway


@pytest.mark.asyncio
async def test_channel_post_and_injected_403(env: Env) -> None:
    fake, guild = env.fake, env.guild
    news = fake.add_channel(guild.id, "news")
    await asyncio.sleep(0.05)  # CHANNEL_CREATE reaches the bot's cache
    res = await fake.slash(
        guild.id, env.alice.id, "announce", {"channel": news, "text": "hello all"}
    )
    final = await res.final()
    assert final["content"] == f"posted in <#{news.id}>"
    assert [m["content"] for m in fake.channel_messages(news.id)] == ["hello all"]

    fake.fail("POST", rf"/channels/{news.id}/messages", 403, 50013, "Missing Permissions", times=1)
    res = await fake.slash(guild.id, env.alice.id, "announce", {"channel": news, "text": "again"})
    assert (await res.final())["content"] == "cannot post there"
    err = env.bot.errors[-1]
    assert isinstance(err, discord.Forbidden) and err.code == 50013
    assert len(fake.channel_messages(news.id)) == 1


@pytest.mark.asyncio
async def test_file_attachment(env: Env) -> None:
    res = await env.fake.slash(env.guild.id, env.alice.id, "export")
    msg = await res.final()
    assert res.ephemeral
    (att,) = msg["attachments"]
    assert att["filename"] == "export.json"
    assert json.loads(env.fake.attachment_bytes(att)) == {"ok": True}
    assert res.callback is not None and res.callback["files"][0].filename == "export.json"


@pytest.mark.asyncio
async def test_dm_and_closed_dms(env: Env) -> None:
    fake = env.fake
    bob = fake.add_member(env.guild.id, name="bob")
    res = await fake.slash(env.guild.id, env.alice.id, "poke", {"user": bob})
    assert (await res.final())["content"] == "poked bob"
    assert [m["content"] for m in fake.dms(bob.id)] == ["poked by alice"]

    fake.close_dms(bob.id)
    res = await fake.slash(env.guild.id, env.alice.id, "poke", {"user": bob.id})
    assert (await res.final())["content"] == "their DMs are closed"
    err = env.bot.errors[-1]
    assert isinstance(err, discord.Forbidden) and err.code == 50007


@pytest.mark.asyncio
async def test_dm_interaction_and_unknown_route(env: Env) -> None:
    fake = env.fake
    res = await fake.slash(None, env.alice.id, "milestone complete", {"milestone": "dm"})
    await res.final()
    assert "member" not in res.payload and res.payload["user"]["id"] == str(env.alice.id)
    assert "dm" in res.text()

    route = discord.http.Route("GET", "/nonexistent/{x}", x=1)
    with pytest.raises(discord.NotFound):
        await env.bot.http.request(route)
    assert [r.path for r in fake.unknown_requests] == ["/nonexistent/1"]
    fake.unknown_requests.clear()


@pytest.mark.asyncio
async def test_component_deferred_update_then_edit(env: Env) -> None:
    fake = env.fake
    msg = await (await fake.slash(env.guild.id, env.alice.id, "panel")).final()
    res = await fake.click(env.guild, env.alice, msg, "panel:later")
    assert (await res.response())["type"] == 6
    final = await res.final()
    assert final is msg and msg["content"] == "done later" and msg["components"] == []


@pytest.mark.asyncio
async def test_rate_limit_429_is_retried(env: Env) -> None:
    fake = env.fake
    channel = fake.guild(env.guild.id).default_channel
    fake.fail("POST", rf"/channels/{channel.id}/messages", 429, times=1)
    res = await fake.slash(
        env.guild.id, env.alice.id, "announce", {"channel": channel, "text": "hi"}
    )
    assert (await res.final())["content"] == f"posted in <#{channel.id}>"
    assert [r.status for r in fake.requests_to("POST", rf"/channels/{channel.id}/messages")] == [
        429,
        200,
    ]


@pytest.mark.asyncio
async def test_default_member_permissions_and_context_menu(env: Env) -> None:
    fake, guild = env.fake, env.guild
    with pytest.raises(CommandNotAllowedError):
        await fake.slash(guild.id, env.alice.id, "purge")
    boss = fake.add_member(
        guild.id, name="boss", permissions=int(discord.Permissions(manage_guild=True).value)
    )
    res = await fake.slash(guild.id, boss.id, "purge")
    assert (await res.final())["content"] == "purged"

    res = await fake.user_command(guild.id, boss.id, "Inspect", env.alice)
    assert (await res.final())["content"] == "inspected alice"


@pytest.mark.asyncio
async def test_user_message_without_content_intent(env: Env) -> None:
    await env.fake.user_message(env.guild.id, env.alice.id, "hello bot")
    for _ in range(50):
        if env.bot.seen:
            break
        await asyncio.sleep(0.01)
    (seen,) = env.bot.seen
    assert seen.author.id == env.alice.id and seen.content == ""  # no message_content intent
    assert env.fake.channel_messages(seen.channel.id) == []  # only the bot's own messages


async def test_refused_gateway_drops_the_client_until_accepted_again(env: Env) -> None:
    fake = env.fake
    await fake.refuse_gateway()
    assert not fake.connected
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(fake.gateway_url)
    assert refused.value.status == 503
    for _ in range(200):  # the bot's own reconnect is turned away too
        if fake.gateway_refusals >= 2:
            break
        await asyncio.sleep(0.05)
    assert fake.gateway_refusals >= 2
    assert not fake.connected
    await fake.refuse_gateway(False)
    await fake.wait_until_connected(timeout=20)  # after discord.py's reconnect back-off
    res = await fake.slash(env.guild.id, env.alice.id, "milestone complete", {"milestone": "x"})
    assert "Milestone complete" in message_text(await res.final())


async def test_a_hanging_gateway_answers_no_handshake_until_the_outage_ends(env: Env) -> None:
    fake = env.fake
    await fake.refuse_gateway(hang=True)
    async with aiohttp.ClientSession() as http:
        attempt = asyncio.create_task(http.ws_connect(fake.gateway_url))
        await asyncio.sleep(0.3)
        assert not attempt.done()  # No answer at all, as behind a network dropping packets.
        await fake.refuse_gateway(False)
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await asyncio.wait_for(attempt, 5)  # The held one is turned away; the next gets in.
    await fake.wait_until_connected(timeout=20)


async def test_a_first_response_after_the_deadline_is_refused_like_discord(env: Env) -> None:
    fake = env.fake
    fake.interaction_deadline = 0.05
    late = await fake.slash(env.guild.id, env.alice.id, "nap", {"seconds": 0.2})
    await _until(lambda: bool(env.bot.errors))
    assert late.expired and not late.responded and late.answered_after is None
    error = env.bot.errors[0]
    assert isinstance(error, app_commands.CommandInvokeError)
    assert isinstance(error.original, discord.NotFound) and error.original.code == 10062
    fake.interaction_deadline = 3.0
    quick = await fake.slash(env.guild.id, env.alice.id, "nap", {"seconds": 0})
    await quick.final()
    assert not quick.expired and quick.answered_after is not None


async def test_a_followup_after_deleting_the_deferred_answer_is_a_new_message(env: Env) -> None:
    res = await env.fake.slash(env.guild.id, env.alice.id, "private")
    await res.final()
    assert res.deleted and res.text() == "only you see this" and res.ephemeral


async def _until(predicate: Callable[[], bool], timeout: float = 5) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_avatars_come_from_the_fake_cdn(env: Env) -> None:
    fake = env.fake
    digest = fake.set_avatar(env.alice, colour=(10, 200, 30))
    bob = fake.add_member(env.guild.id, name="bob")
    seen: list[discord.Member] = []

    @env.bot.tree.command(name="whois", description="Shows a member")
    async def whois(interaction: discord.Interaction, member: discord.Member) -> None:
        seen.append(member)
        await interaction.response.send_message("ok")

    await env.bot.tree.sync()
    await (await fake.slash(env.guild.id, bob.id, "whois", {"member": env.alice})).final()
    (alice,) = seen
    assert alice.avatar is not None and alice.avatar.key == digest
    asset = alice.display_avatar.replace(size=128, static_format="png")
    assert asset.url.startswith(fake.cdn_base + f"/avatars/{env.alice.id}/{digest}.png")
    png = await asset.read()
    assert png.startswith(b"\x89PNG") and png == fake.avatar_images[digest]
    assert fake.requests_to("GET", rf"/cdn/avatars/{env.alice.id}/{digest}\.png")
    # Discord's default avatars are there too; an unknown hash is a 404, and failures inject.
    assert (await bob_default(env, bob)).startswith(b"\x89PNG")
    with pytest.raises(discord.NotFound):
        await env.bot.http.get_from_cdn(f"{fake.cdn_base}/avatars/{bob.id}/nothing.png")
    fake.fail("GET", r"/cdn/avatars/.*", 500, times=1)
    with pytest.raises(discord.HTTPException):
        await asset.read()
    assert await asset.read() == png
    assert not fake.unknown_requests


async def bob_default(env: Env, bob: FakeMember) -> bytes:
    user = await env.bot.fetch_user(bob.id)
    assert user.avatar is None
    return await user.display_avatar.read()


async def test_members_are_looked_up_by_id_over_the_gateway_without_the_members_intent(
    env: Env,
) -> None:
    fake, bot = env.fake, env.bot
    assert not bot.intents.members  # the privileged intent is not needed for this
    bob = fake.add_member(env.guild.id, name="bob", nick="Bobby")
    guild = bot.get_guild(env.guild.id)
    assert guild is not None
    found = await guild.query_members(user_ids=[env.alice.id, bob.id, 12345], cache=False)
    assert sorted(m.name for m in found) == ["alice", "bob"]
    assert {m.id: m.nick for m in found}[bob.id] == "Bobby"
    assert guild.get_member(bob.id) is None  # cache=False keeps nothing
    request = fake.member_requests[-1]
    assert request["user_ids"] == [env.alice.id, bob.id, 12345] and request["nonce"]
    by_name = await guild.query_members(query="bob", limit=5)
    assert [m.id for m in by_name] == [bob.id]
    assert guild.get_member(bob.id) is not None  # cached this time
    # Asking for the whole list without the intent gets no answer (and the fake says why).
    with pytest.raises(ValueError):
        await guild.query_members(query="")  # discord.py refuses it already


async def test_many_members_come_in_one_chunk_per_hundred_ids(env: Env) -> None:
    fake, bot = env.fake, env.bot
    ids = [fake.add_member(env.guild.id, name=f"m{i}").id for i in range(250)]
    guild = bot.get_guild(env.guild.id)
    assert guild is not None
    found: list[discord.Member] = []
    for start in range(0, len(ids), 100):
        found += await guild.query_members(user_ids=ids[start : start + 100], cache=False)
    assert sorted(m.id for m in found) == sorted(ids)
    assert [len(r["user_ids"]) for r in fake.member_requests] == [100, 100, 50]


async def test_the_whole_member_list_in_chunks_of_a_thousand_with_the_members_intent() -> None:
    fake = FakeDiscord()
    await fake.start()
    fake.install()
    guild = fake.add_guild(name="Big")
    for i in range(1500):
        fake.add_member(guild.id, name=f"m{i}")
    intents = discord.Intents.none()
    intents.guilds = intents.members = True
    client = discord.Client(intents=intents, chunk_guilds_at_startup=False)
    task = asyncio.create_task(client.start("fake-token"))
    try:
        await asyncio.wait_for(client.wait_until_ready(), 5)
        cached = client.get_guild(guild.id)
        assert cached is not None and cached.large  # GUILD_CREATE came without the members
        members = await cached.chunk()
        assert len(members) == len(guild.members)
        assert fake.member_requests[-1]["query"] == "" and fake.member_requests[-1]["limit"] == 0
    finally:
        await client.close()
        await asyncio.wait_for(task, 5)
        await fake.close()
        fake.uninstall()
