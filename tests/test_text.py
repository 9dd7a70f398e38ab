"""User text is cleaned of control characters, keeping newlines and tabs."""

from __future__ import annotations

from bot.text import clean_text


def test_control_characters_go_newline_and_tab_stay() -> None:
    assert clean_text("a\x00b\x1b[31mc\x7f\x85d\r\n\te") == "ab[31mcd\n\te"
    assert clean_text("Zoë · 数据 🚀") == "Zoë · 数据 🚀"
    assert clean_text("\u200bzero width stays: it is not a control character") == (
        "\u200bzero width stays: it is not a control character"
    )
