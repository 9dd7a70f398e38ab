"""Finding roadmap items by words of their title or by id, for autocomplete."""

from __future__ import annotations

from collections.abc import Callable

from bot.roadmap import CATEGORY_LABELS, Item, Roadmap

MAX_CHOICES = 25  # Discord's limit; discord.py does not cut the list for us.


def choice_label(item: Item) -> str:
    """A label of at most 100 characters, such as `L2 Checklist · Deployed first cloud…`."""
    label = f"L{item.level} {CATEGORY_LABELS[item.category]} · {item.title}"
    return label if len(label) <= 100 else label[:99] + "…"


def search(
    roadmap: Roadmap,
    query: str,
    keep: Callable[[Item], bool] = lambda _: True,
    limit: int = MAX_CHOICES,
) -> list[Item]:
    """Items and projects whose id or title has every word of the query, checklist first."""
    words = query.lower().split()
    found: list[Item] = []
    for item in roadmap.trackable:
        haystack = f"{item.id} {item.title}".lower()
        if all(w in haystack for w in words) and keep(item):
            found.append(item)
    exact = [i for i in found if i.id == query.strip()]
    found.sort(key=lambda i: (i.level, not i.is_checklist))
    ordered = exact + [i for i in found if i not in exact]
    return ordered[:limit]
