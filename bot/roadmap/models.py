"""Immutable models of the career roadmap: levels, items, phases, metrics, principles, projects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

CATEGORIES: tuple[str, ...] = ("knowledge", "technical", "projects", "professional", "check")
"""Item categories: the four milestone categories, then the career checklist."""

MILESTONE_CATEGORIES: tuple[str, ...] = CATEGORIES[:4]
"""The milestone categories of a level, in document order (no checklist)."""

PROJECT = "project"
"""The category of the 15 numbered projects: completable like items, kept apart from them."""

CATEGORY_LABELS: Mapping[str, str] = {
    "knowledge": "Knowledge",
    "technical": "Technical skills",
    "projects": "Projects",
    "professional": "Professional",
    "check": "Checklist",
    PROJECT: "Project",
}
"""Display name of each category."""


def months_label(month_start: int, month_end: int | None) -> str:
    """Return a range label such as "0-6 months" or "36+ months"."""
    if month_end is None:
        return f"{month_start}+ months"
    return f"{month_start}-{month_end} months"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Item(_Frozen):
    """One trackable milestone or checklist item."""

    id: str
    title: str
    level: int
    category: str

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORIES and value != PROJECT:
            expected = ", ".join((*CATEGORIES, PROJECT))
            raise ValueError(f"unknown category {value!r} (expected one of {expected})")
        return value

    @property
    def is_checklist(self) -> bool:
        """Tell whether the item belongs to the career milestone checklist."""
        return self.category == "check"

    @property
    def is_project(self) -> bool:
        """Tell whether the item is one of the numbered projects."""
        return self.category == PROJECT

    @property
    def category_label(self) -> str:
        """Return the display name of the item's category."""
        return CATEGORY_LABELS[self.category]


class Level(_Frozen):
    """One career level with its milestones and checklist."""

    number: int
    title: str
    month_start: int
    month_end: int | None
    transition_from: str
    transition_to: str
    milestones: dict[str, tuple[Item, ...]]
    checklist: tuple[Item, ...]

    @model_validator(mode="after")
    def _milestone_keys(self) -> Level:
        if tuple(self.milestones) != MILESTONE_CATEGORIES:
            expected = ", ".join(MILESTONE_CATEGORIES)
            raise ValueError(f"milestones must have keys {expected} in order")
        return self

    @property
    def months_label(self) -> str:
        """Return the level's month range, e.g. "0-6 months" or "36+ months"."""
        return months_label(self.month_start, self.month_end)

    @property
    def items(self) -> tuple[Item, ...]:
        """Return all items of the level: milestones by category, then the checklist."""
        milestones = tuple(item for items in self.milestones.values() for item in items)
        return milestones + self.checklist


class Phase(_Frozen):
    """One phase of the role transition roadmap."""

    number: int
    month_start: int
    month_end: int | None
    title: str
    focus: str
    activities: tuple[str, ...]

    @property
    def months_label(self) -> str:
        """Return the phase's month range, e.g. "6-12 months" or "36+ months"."""
        return months_label(self.month_start, self.month_end)

    def contains_month(self, months_elapsed: int) -> bool:
        """Tell whether the month falls in the phase's half-open range [start, end)."""
        if months_elapsed < self.month_start:
            return False
        return self.month_end is None or months_elapsed < self.month_end


class Metric(_Frozen):
    """One progress metric; members rate themselves on it from 1 (`low`) to 5 (`high`)."""

    id: str
    group_id: str
    group: str
    name: str
    description: str
    low: str
    high: str


class Principle(_Frozen):
    """One principle of adapting to industry changes."""

    number: int
    name: str
    description: str


class Project(Item):
    """One numbered project, completable like any item (its `title` is its name).

    `checklist_id` is the checklist item of `level` that names it: the item is done exactly
    when all its projects are.
    """

    number: int
    group: str
    checklist_id: str

    @property
    def name(self) -> str:
        """The project's name."""
        return self.title


@dataclass(frozen=True)
class Roadmap:
    """The whole roadmap content, loaded once at start-up."""

    levels: tuple[Level, ...]
    start_title: str
    phases: tuple[Phase, ...]
    metrics: tuple[Metric, ...]
    principles: tuple[Principle, ...]
    projects: tuple[Project, ...]
    note: str
    items: tuple[Item, ...] = field(init=False)
    trackable: tuple[Item, ...] = field(init=False)
    _by_id: Mapping[str, Item] = field(init=False, repr=False, compare=False)
    _projects_of: Mapping[str, tuple[Project, ...]] = field(init=False, repr=False, compare=False)
    _by_number: Mapping[int, Level] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Precompute the document-order item tuple and the lookup tables."""
        milestones = [
            item for level in self.levels for items in level.milestones.values() for item in items
        ]
        checklist = [item for level in self.levels for item in level.checklist]
        items = tuple(milestones + checklist)
        object.__setattr__(self, "items", items)
        object.__setattr__(self, "trackable", items + self.projects)
        object.__setattr__(self, "_by_id", {item.id: item for item in self.trackable})
        links: dict[str, tuple[Project, ...]] = {}
        for project in self.projects:
            links[project.checklist_id] = (*links.get(project.checklist_id, ()), project)
        object.__setattr__(self, "_projects_of", links)
        object.__setattr__(self, "_by_number", {level.number: level for level in self.levels})

    def level(self, n: int) -> Level:
        """Return level `n`; raise ValueError for an unknown level."""
        try:
            return self._by_number[n]
        except (KeyError, TypeError):
            known = ", ".join(str(number) for number in self._by_number)
            raise ValueError(f"unknown level {n!r} (levels are {known})") from None

    def item(self, item_id: str) -> Item | None:
        """Return the item or project with this id, or None."""
        return self._by_id.get(item_id)

    def projects_of(self, checklist_id: str) -> tuple[Project, ...]:
        """Return the projects a checklist item names (none for most items)."""
        return self._projects_of.get(checklist_id, ())

    def linked_checklist(self, item: Item) -> Item | None:
        """Return the checklist item that names this project, or None for any other item."""
        if not isinstance(item, Project):
            return None
        return self._by_id.get(item.checklist_id)

    def project_groups(self) -> tuple[tuple[str, tuple[Project, ...]], ...]:
        """Return the projects by group, in the roadmap's order."""
        groups: dict[str, tuple[Project, ...]] = {}
        for project in self.projects:
            groups[project.group] = (*groups.get(project.group, ()), project)
        return tuple(groups.items())

    def metric(self, metric_id: str) -> Metric | None:
        """Return the metric with this id, or None."""
        return next((m for m in self.metrics if m.id == metric_id), None)

    def metric_groups(self) -> tuple[tuple[str, tuple[Metric, ...]], ...]:
        """Return the metrics by group, in the roadmap's order."""
        groups: dict[str, tuple[Metric, ...]] = {}
        for metric in self.metrics:
            groups[metric.group] = (*groups.get(metric.group, ()), metric)
        return tuple(groups.items())

    def checklist(self, n: int) -> tuple[Item, ...]:
        """Return the checklist items of level `n`; raise ValueError for an unknown level."""
        return self.level(n).checklist

    def level_title(self, n: int) -> str:
        """Return the title of level `n`; level 0 is the starting role."""
        if n == 0:
            return self.start_title
        return self.level(n).title

    def phase_for_month(self, months_elapsed: int) -> Phase:
        """Return the roadmap phase for a month count; month ranges are [start, end)."""
        for phase in self.phases:
            if phase.contains_month(months_elapsed):
                return phase
        raise ValueError(f"no roadmap phase for month {months_elapsed!r}")
