"""Write the README's example cards to docs/cards/, drawn by the real renderer.

    python benchmarks/make_examples.py

The data is made up (`bot/ui/cards/samples.py`): a member of a 100,000-member server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.ui.cards import CardRenderer
from bot.ui.cards import samples as s

OUT = Path(__file__).resolve().parent.parent / "docs" / "cards"


async def make() -> None:
    """Draw every example through CardRenderer and write it."""
    renderer = CardRenderer()
    try:
        cards = {
            "progress": renderer.progress(s.sample_progress(avatar=s.sample_avatar())),
            "leaderboard": renderer.leaderboard(s.sample_leaderboard()),
            "participation": renderer.participation(s.sample_participation()),
            "hours": renderer.hours(s.sample_hours()),
            "assessment": renderer.assessment(s.sample_assessment(metrics=6)),
        }
        OUT.mkdir(parents=True, exist_ok=True)
        for name, pending in cards.items():
            path = OUT / f"{name}.png"
            path.write_bytes(await pending)
            print(f"{path.relative_to(OUT.parent.parent)}  {path.stat().st_size // 1024} KB")
    finally:
        renderer.close()


if __name__ == "__main__":
    asyncio.run(make())
