"""The card pictures: format, size, content against golden images, and names in any script."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pytest
from PIL import Image

from bot.ui.cards import LeaderboardCard
from bot.ui.cards import samples as s
from bot.ui.cards.canvas import HEAT, default_colour, initials
from bot.ui.cards.draw import (
    render_assessment,
    render_hours,
    render_leaderboard,
    render_participation,
    render_progress,
)
from bot.ui.cards.models import AssessmentChart, HoursChart, ParticipationChart
from bot.ui.cards.progress import CELL, cell_origin, first_day, heat_level
from bot.ui.cards.text import EMOJI_FILE, VS16, ZWJ, Line, Weight, clean, coverage, runs
from tests.ui.golden import assert_matches_golden, decode

NAMES = {
    "latin": "Zoë Åkesson-Núñez",
    "cyrillic": "Дмитрий Иванов",
    "greek": "Ελένη Παπαδοπούλου",
    "arabic": "محمد علي",
    "hebrew": "שלום כהן",
    "chinese": "王小明",
    "japanese": "田中 さくら",
    "korean": "김민준",
    "hindi": "राहुल शर्मा",
    "tamil": "தமிழ்செல்வி",
    "thai": "สมชาย ใจดี",
    "emoji": "🔥 Alex 🚀",
    "emoji-sequences": "👩\u200d💻 Dev ❤️ 🇩🇪 👋🏽",
    "control": "Ev\x00il\x07 \u202eName\u200b\x1b[31m",
}


def test_progress_card_is_a_png_of_the_stated_size_under_1_mb() -> None:
    png = render_progress(s.sample_progress(avatar=s.sample_avatar()))
    image = decode(png)
    assert image.size == (1200, 630)
    assert len(png) < 1024 * 1024
    assert_matches_golden(png, "progress")


def test_progress_card_with_default_avatar_hidden_rank_and_no_activity() -> None:
    card = dataclasses.replace(
        s.sample_progress(name="Дмитрий Иванов"),
        rank=None,
        rank_hidden=True,
        activity={},
        streak=1,
    )
    png = render_progress(card)
    assert decode(png).size == (1200, 630)
    assert_matches_golden(png, "progress_default_avatar")


def test_heatmap_cells_are_shaded_by_that_day_s_count() -> None:
    today = s.TODAY
    day_counts = {today: 5, today - dt.timedelta(days=3): 1, today - dt.timedelta(days=200): 3}
    card = dataclasses.replace(s.sample_progress(), activity=day_counts)
    image = decode(render_progress(card)).convert("RGB")
    for day, count in [*day_counts.items(), (today - dt.timedelta(days=1), 0)]:
        origin = cell_origin(day, today)
        assert origin is not None
        centre = (round(origin[0] + CELL / 2), round(origin[1] + CELL / 2))
        assert image.getpixel(centre) == HEAT[heat_level(count)], day


def test_heatmap_spans_52_weeks_from_a_monday() -> None:
    today = dt.date(2026, 11, 26)  # a Thursday
    start = first_day(today)
    assert start.weekday() == 0
    assert (today - start).days == 51 * 7 + 3
    assert cell_origin(start - dt.timedelta(days=1), today) is None
    assert cell_origin(today + dt.timedelta(days=1), today) is None
    assert [heat_level(n) for n in (0, 1, 2, 3, 4, 5, 40)] == [0, 1, 2, 3, 3, 4, 4]


def test_leaderboard_card_for_a_full_page() -> None:
    png = render_leaderboard(s.sample_leaderboard())
    image = decode(png)
    assert image.size == (1200, 808)
    assert_matches_golden(png, "leaderboard")


def test_leaderboard_card_for_a_short_and_an_empty_page() -> None:
    full = s.sample_leaderboard(page=3, avatars=False)
    short = dataclasses.replace(
        full, rows=full.rows[:3], period="This week", since=dt.date(2026, 11, 23)
    )
    assert decode(render_leaderboard(short)).size == (1200, 132 + 3 * 64 + 36)
    empty = LeaderboardCard(period="This month", page=0, pages=1, total_members=0, rows=())
    assert decode(render_leaderboard(empty)).size == (1200, 132 + 64 + 36)


def test_charts_match_their_goldens() -> None:
    assert_matches_golden(render_participation(s.sample_participation()), "participation")
    assert_matches_golden(render_hours(s.sample_hours()), "hours")
    assert_matches_golden(render_assessment(s.sample_assessment(metrics=15)), "assessment")


def test_charts_without_data_still_render() -> None:
    for png in (
        render_participation(ParticipationChart(cycles=())),
        render_hours(HoursChart(1, "", weeks=())),
        render_assessment(AssessmentChart(1, "Ana", metrics={})),
        render_assessment(AssessmentChart(1, "Ana", metrics={"Innovation": [(s.TODAY, 3)]})),
    ):
        assert decode(png).width == 1200


@pytest.mark.parametrize("script", sorted(NAMES))
def test_names_in_any_script_render_without_boxes(script: str) -> None:
    name = NAMES[script]
    text = clean(name)
    drawn = "".join(r.text for r in runs(text, Weight.BOLD))
    # Nothing is lost but what no font should draw: joiners and emoji variation selectors.
    assert [ch for ch in drawn if ch != ZWJ] == [ch for ch in text if ch not in (ZWJ, VS16)]
    for run in runs(text, Weight.BOLD):
        for ch in run.text:
            if ch != ZWJ:
                assert ord(ch) in coverage(run.font), (script, ch, run.font)
    # And the cards draw it, as the member and on a leaderboard row.
    card = s.sample_progress(name=name)
    assert decode(render_progress(card)).size == (1200, 630)
    board = s.sample_leaderboard(avatars=False)
    row = dataclasses.replace(board.rows[0], display_name=name)
    assert decode(render_leaderboard(dataclasses.replace(board, rows=(row,)))).width == 1200


def test_control_and_bidi_characters_are_stripped() -> None:
    assert clean(NAMES["control"]) == "Evil Name[31m"
    assert clean("a\tb\nc") == "a b c"
    assert clean("👋🏽") == "👋"  # no skin-tone glyphs shipped: the default colour


def test_combining_marks_no_font_of_the_run_has_are_dropped() -> None:
    zalgo = "Z\u0351\u036b\u20d7a\u0307\u1dc0l\u0489g\u20dfo"
    for run in runs(clean(zalgo), Weight.BOLD):
        assert all(ord(ch) in coverage(run.font) for ch in run.text)
    assert "".join(r.text for r in runs(clean(zalgo))).startswith("Z")
    assert decode(render_progress(s.sample_progress(name=zalgo))).size == (1200, 630)


def test_emoji_are_drawn_in_colour() -> None:
    assert {r.font for r in runs(clean("🔥🚀"))} == {EMOJI_FILE}
    image = Image.new("RGB", (200, 80), (0, 0, 0))
    Line("🔥", 48).draw(image, (10, 60), (255, 255, 255))
    pixels = [image.getpixel((x, y)) for x in range(200) for y in range(80)]
    assert any(isinstance(p, tuple) and max(p) - min(p) > 60 for p in pixels)


def test_a_name_no_font_can_draw_falls_back_to_member() -> None:
    mongolian = "ᠮᠣᠩᠭᠣᠯ"
    assert runs(clean(mongolian)) == []
    assert Line(mongolian, 20).empty
    png = render_progress(s.sample_progress(name=mongolian + "\x00"))
    assert decode(png).size == (1200, 630)


def test_long_names_are_cut_with_an_ellipsis() -> None:
    line = Line("Maximilian Alexander von Hohenzollern-Sigmaringen " * 3, 40, Weight.BOLD)
    cut = line.fit(500)
    assert cut.width <= 500
    assert cut.text.endswith("…")


def test_default_avatar_initials_and_colour() -> None:
    assert initials("Ana María López") == "AM"
    assert initials("王小明") == "王"
    assert initials("🔥 alex") == "A"
    assert initials("\x00") == "?"
    assert default_colour(42) == default_colour(42)
    assert default_colour(42) != default_colour(43)


def test_broken_or_huge_avatar_bytes_fall_back_to_the_default() -> None:
    huge = io.BytesIO()
    Image.new("L", (5000, 5000)).save(huge, "PNG")
    for data in (b"not an image", b"\x89PNG\r\n\x1a\n broken", huge.getvalue()):
        card = dataclasses.replace(s.sample_progress(), avatar=data)
        assert decode(render_progress(card)).size == (1200, 630)
