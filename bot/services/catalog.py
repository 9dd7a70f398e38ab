"""Finding roadmap items by words of their title or by id, for autocomplete."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from bot.roadmap import CATEGORY_LABELS, Item, Roadmap

MAX_CHOICES = 25  # Discord's limit; discord.py does not cut the list for us.


def choice_label(item: Item) -> str:
    """A label of at most 100 characters, such as `L2 Checklist · Deployed first cloud…`."""
    return _label(item.level, item.category, item.title)


@lru_cache(maxsize=1024)
def _label(level: int, category: str, title: str) -> str:
    label = f"L{level} {CATEGORY_LABELS[category]} · {title}"
    return label if len(label) <= 100 else label[:99] + "…"


# Autocomplete runs on every keystroke: each roadmap's items are lowered and ordered once.
_indexes: dict[int, tuple[Roadmap, tuple[tuple[Item, str], ...]]] = {}


def _index(roadmap: Roadmap) -> tuple[tuple[Item, str], ...]:
    found = _indexes.get(id(roadmap))
    if found is not None and found[0] is roadmap:
        return found[1]
    ordered = sorted(roadmap.trackable, key=lambda i: (i.level, not i.is_checklist))
    entries = tuple((item, f"{item.id} {item.title}".lower()) for item in ordered)
    _indexes[id(roadmap)] = (roadmap, entries)
    return entries


def search(
    roadmap: Roadmap,
    query: str,
    keep: Callable[[Item], bool] = lambda _: True,
    limit: int = MAX_CHOICES,
) -> list[Item]:
    """Items and projects whose id or title has every word of the query, checklist first."""
    words = query.lower().split()
    wanted = query.strip()
    exact: list[Item] = []
    found: list[Item] = []
    for item, haystack in _index(roadmap):
        if all(w in haystack for w in words) and keep(item):
            (exact if item.id == wanted else found).append(item)
            if not exact and len(found) >= limit and not wanted:
                break  # nothing can come before these: the rest would be cut anyway
    return (exact + found)[:limit]
