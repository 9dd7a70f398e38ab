"""The career roadmap content: validated, immutable, loaded once at start-up."""

from __future__ import annotations

from bot.roadmap.loader import RoadmapError, default_data_dir, load_roadmap
from bot.roadmap.models import (
    CATEGORIES,
    CATEGORY_LABELS,
    MILESTONE_CATEGORIES,
    PROJECT,
    Item,
    Level,
    Metric,
    Phase,
    Principle,
    Project,
    Roadmap,
)

__all__ = [
    "CATEGORIES",
    "CATEGORY_LABELS",
    "MILESTONE_CATEGORIES",
    "PROJECT",
    "Item",
    "Level",
    "Metric",
    "Phase",
    "Principle",
    "Project",
    "Roadmap",
    "RoadmapError",
    "default_data_dir",
    "load_roadmap",
]
