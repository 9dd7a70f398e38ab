"""Load and validate the roadmap YAML files into a `Roadmap`.

Every mistake in the data becomes a `RoadmapError` whose message names the file, the
item and the problem on one line, e.g.
``data/levels.yaml: item l2.check.spark-job: duplicate id (also in data/levels.yaml)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

from bot.defaults import LEVEL_COUNT
from bot.roadmap.models import (
    CATEGORIES,
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

__all__ = ["DATA_FILES", "FORMAT_VERSION", "RoadmapError", "default_data_dir", "load_roadmap"]

FORMAT_VERSION = 1
LEVEL_NUMBERS = range(1, LEVEL_COUNT + 1)
DATA_FILES = ("levels.yaml", "phases.yaml", "metrics.yaml", "principles.yaml", "projects.yaml")

MAX_SLUG_LENGTH = 40
MAX_ID_LENGTH = 60
_ID_RE = re.compile(
    r"^l(?P<level>[0-9]+)\.(?P<category>[a-z]+)\.(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)*)$"
)
_METRIC_ID_RE = re.compile(r"^(?P<group>[a-z]+)\.(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)*)$")
_GROUP_ID_RE = re.compile(r"^[a-z]+$")
MAX_ANCHOR_LENGTH = 90  # "1 · " + the anchor must fit a select option's 100 characters
_ID_FORMAT_HINT = (
    f"expected l<level>.<category>.<slug> with category one of {', '.join(CATEGORIES)}, "
    f"a lowercase hyphenated slug of at most {MAX_SLUG_LENGTH} characters "
    f"and at most {MAX_ID_LENGTH} characters in all"
)

_M = TypeVar("_M", bound=BaseModel)


class RoadmapError(Exception):
    """A mistake in the roadmap data; the message names file, item and problem."""


def default_data_dir() -> Path:
    """Return the roadmap data folder: the installed copy if present, else the repo's data/."""
    installed = Path(__file__).parent.parent / "roadmap_data"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "data"


# --- YAML reading -------------------------------------------------------------------------


class _UniqueKeyLoader(_SafeLoader):
    """A safe loader that rejects duplicate mapping keys instead of keeping the last one."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Build a mapping; raise ConstructorError on a repeated key."""
        seen: set[Any] = set()
        for key_node, _value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # unhashable key: the base class reports it
                continue
            if duplicate:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Describe a YAML error on one line, with its line number when known."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        if mark is not None:
            return f"line {mark.line + 1}, column {mark.column + 1}: invalid YAML: {problem}"
        return f"invalid YAML: {problem}"
    return f"invalid YAML: {' '.join(str(exc).split())}"


# --- pydantic schemas of the files --------------------------------------------------------


class _Raw(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _RawStart(_Raw):
    level: int
    title: str


class _LevelsFile(_Raw):
    version: int
    start: _RawStart
    levels: list[Any]


class _RawLevel(_Raw):
    level: int
    title: str
    month_start: int
    month_end: int | None
    transition_from: str = Field(alias="from")
    transition_to: str = Field(alias="to")
    knowledge: list[Any]
    technical: list[Any]
    projects: list[Any]
    professional: list[Any]
    checklist: list[Any]


class _RawItem(_Raw):
    id: str
    title: str


class _PhasesFile(_Raw):
    version: int
    phases: list[Any]


class _RawPhase(_Raw):
    number: int
    month_start: int
    month_end: int | None
    title: str
    focus: str
    activities: list[str]


class _MetricsFile(_Raw):
    version: int
    groups: list[Any]


class _RawGroup(_Raw):
    id: str
    group: str
    metrics: list[Any]


class _RawMetric(_Raw):
    id: str
    name: str
    description: str
    low: str
    high: str


class _PrinciplesFile(_Raw):
    version: int
    intro: str
    principles: list[Any]
    note: str


class _RawPrinciple(_Raw):
    number: int
    name: str
    description: str


class _ProjectsFile(_Raw):
    version: int
    projects: list[Any]


class _RawProject(_Raw):
    number: int
    id: str
    name: str
    group: str
    level: int
    checklist: str


def _describe(exc: ValidationError) -> str:
    """Describe the first problem of a pydantic error in plain words."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    kind = first["type"]
    if kind == "missing":
        text = f"missing field '{where}'"
    elif kind == "extra_forbidden":
        text = f"unknown field '{where}'"
    else:
        message = str(first["msg"]).removeprefix("Value error, ")
        text = f"field '{where}': {message}" if where else message
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return text


# --- the loader ---------------------------------------------------------------------------


class _Loader:
    """Read one data folder, validating as it goes."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.id_origin: dict[str, str] = {}

    def label(self, name: str) -> str:
        """Return the file name as shown in messages, e.g. "data/levels.yaml"."""
        return f"{self.data_dir.name}/{name}"

    def fail(self, name: str, where: str, problem: str) -> RoadmapError:
        """Build the one-line error for a problem in a file."""
        prefix = f"{self.label(name)}: {where}: " if where else f"{self.label(name)}: "
        return RoadmapError(prefix + problem)

    def read(self, name: str) -> dict[str, Any]:
        """Parse one YAML file into a mapping and check its format version."""
        path = self.data_dir / name
        if not path.is_file():
            raise self.fail(name, "", "missing file")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise self.fail(name, "", f"cannot read file: {exc}") from None
        try:
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # a safe loader
        except yaml.YAMLError as exc:
            raise self.fail(name, "", _yaml_problem(exc)) from None
        if data is None:
            raise self.fail(name, "", "empty file")
        if not isinstance(data, dict):
            raise self.fail(name, "", f"top level must be a mapping, not {type(data).__name__}")
        version = data.get("version")
        if "version" not in data:
            raise self.fail(name, "", "missing field 'version'")
        if version != FORMAT_VERSION or isinstance(version, bool):
            raise self.fail(
                name, "", f"unsupported version {version!r} (expected {FORMAT_VERSION})"
            )
        return data

    def parse(self, model: type[_M], data: Any, name: str, where: str) -> _M:
        """Validate `data` against `model`, turning pydantic errors into RoadmapError."""
        if not isinstance(data, dict):
            raise self.fail(name, where, f"expected a mapping, not {_kind(data)}")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise self.fail(name, where, _describe(exc)) from None

    def text(self, value: str, name: str, where: str, field: str) -> str:
        """Reject an empty or blank text field."""
        if not value.strip():
            raise self.fail(name, where, f"empty {field}")
        return value

    # -- levels.yaml --

    def levels(self) -> tuple[str, tuple[Level, ...]]:
        """Load levels.yaml: the starting title and levels 1 to LEVEL_COUNT."""
        name = "levels.yaml"
        raw_file = self.parse(_LevelsFile, self.read(name), name, "")
        start = raw_file.start
        if start.level != 0:
            raise self.fail(name, "start", f"level must be 0, not {start.level}")
        start_title = self.text(start.title, name, "start", "title")

        by_number: dict[int, Level] = {}
        for position, raw in enumerate(raw_file.levels, 1):
            number = raw.get("level") if isinstance(raw, dict) else None
            where = f"level {number}" if _is_int(number) else f"level #{position}"
            raw_level = self.parse(_RawLevel, raw, name, where)
            if raw_level.level not in LEVEL_NUMBERS:
                raise self.fail(
                    name,
                    where,
                    f"unknown level (levels are {LEVEL_NUMBERS[0]}-{LEVEL_NUMBERS[-1]})",
                )
            if raw_level.level in by_number:
                raise self.fail(name, where, "duplicate level")
            by_number[raw_level.level] = self.level(raw_level, name, where)

        for number in LEVEL_NUMBERS:
            if number not in by_number:
                raise self.fail(
                    name,
                    f"level {number}",
                    f"missing (levels are {LEVEL_NUMBERS[0]}-{LEVEL_NUMBERS[-1]})",
                )
        levels = tuple(by_number[number] for number in LEVEL_NUMBERS)
        self.check_ranges(
            [(f"level {lv.number}", lv.month_start, lv.month_end) for lv in levels], name
        )
        previous = start_title
        for lv in levels:
            if lv.transition_from != previous:
                raise self.fail(
                    name,
                    f"level {lv.number}",
                    f"'from' is {lv.transition_from!r} but the previous level is {previous!r}",
                )
            previous = lv.title
        return start_title, levels

    def level(self, raw: _RawLevel, name: str, where: str) -> Level:
        """Build one level, validating its items."""
        self.text(raw.title, name, where, "title")
        self.text(raw.transition_from, name, where, "'from'")
        self.text(raw.transition_to, name, where, "'to'")
        milestones = {
            category: self.items(getattr(raw, category), raw.level, category, category, name)
            for category in MILESTONE_CATEGORIES
        }
        checklist = self.items(raw.checklist, raw.level, "check", "checklist", name)
        return self.build(
            Level,
            name,
            where,
            number=raw.level,
            title=raw.title,
            month_start=raw.month_start,
            month_end=raw.month_end,
            transition_from=raw.transition_from,
            transition_to=raw.transition_to,
            milestones=milestones,
            checklist=checklist,
        )

    def items(
        self, raws: list[Any], level: int, category: str, key: str, name: str
    ) -> tuple[Item, ...]:
        """Build the items of one category of one level."""
        items: list[Item] = []
        for position, raw in enumerate(raws, 1):
            where = f"level {level} item #{position} in {key}"
            if isinstance(raw, dict):
                if isinstance(raw.get("id"), str) and raw["id"]:
                    where = f"item {raw['id']}"
                elif isinstance(raw.get("title"), str):
                    where += f" ({raw['title']!r})"
            raw_item = self.parse(_RawItem, raw, name, where)
            items.append(self.item(raw_item, level, category, key, name, where))
        return tuple(items)

    def item(
        self, raw: _RawItem, level: int, category: str, key: str, name: str, where: str
    ) -> Item:
        """Check one item's id and title and build it."""
        item_id = raw.id
        match = _ID_RE.match(item_id)
        if (
            match is None
            or match["category"] not in CATEGORIES
            or len(match["slug"]) > MAX_SLUG_LENGTH
            or len(item_id) > MAX_ID_LENGTH
        ):
            raise self.fail(name, where, f"bad id format ({_ID_FORMAT_HINT})")
        prefix = f"l{level}.{category}."
        if not item_id.startswith(prefix):
            raise self.fail(
                name,
                where,
                f"id does not match its place (level {level} {key} ids start with '{prefix}')",
            )
        self.text(raw.title, name, where, "title")
        if item_id in self.id_origin:
            raise self.fail(name, where, f"duplicate id (also in {self.id_origin[item_id]})")
        self.id_origin[item_id] = self.label(name)
        return self.build(
            Item, name, where, id=item_id, title=raw.title, level=level, category=category
        )

    def check_ranges(self, ranges: Sequence[tuple[str, int, int | None]], name: str) -> None:
        """Check that month ranges start at 0, follow each other and only the last is open."""
        expected_start = 0
        for index, (where, start, end) in enumerate(ranges):
            if start != expected_start:
                raise self.fail(name, where, f"month_start is {start}, expected {expected_start}")
            if end is None:
                if index != len(ranges) - 1:
                    raise self.fail(name, where, "only the last entry may have month_end null")
                return
            if end <= start:
                raise self.fail(name, where, f"month_end {end} must be after month_start {start}")
            expected_start = end
        if ranges:
            raise self.fail(name, ranges[-1][0], "the last entry must have month_end null")

    # -- phases.yaml --

    def phases(self) -> tuple[Phase, ...]:
        """Load phases.yaml: the role transition roadmap."""
        name = "phases.yaml"
        raw_file = self.parse(_PhasesFile, self.read(name), name, "")
        phases: list[Phase] = []
        for position, raw in enumerate(raw_file.phases, 1):
            where = f"phase #{position}"
            raw_phase = self.parse(_RawPhase, raw, name, where)
            where = f"phase {raw_phase.number}"
            if raw_phase.number != position:
                raise self.fail(
                    name, where, f"phases must be numbered 1, 2, ... in order (expected {position})"
                )
            self.text(raw_phase.title, name, where, "title")
            self.text(raw_phase.focus, name, where, "focus")
            if not raw_phase.activities:
                raise self.fail(name, where, "no activities")
            for index, activity in enumerate(raw_phase.activities, 1):
                self.text(activity, name, f"{where} activity #{index}", "text")
            phases.append(
                self.build(
                    Phase,
                    name,
                    where,
                    number=raw_phase.number,
                    month_start=raw_phase.month_start,
                    month_end=raw_phase.month_end,
                    title=raw_phase.title,
                    focus=raw_phase.focus,
                    activities=tuple(raw_phase.activities),
                )
            )
        if not phases:
            raise self.fail(name, "", "no phases")
        self.check_ranges([(f"phase {p.number}", p.month_start, p.month_end) for p in phases], name)
        return tuple(phases)

    # -- metrics.yaml --

    def metrics(self) -> tuple[Metric, ...]:
        """Load metrics.yaml: the progress metrics by group, each with its 1 and 5 anchors."""
        name = "metrics.yaml"
        raw_file = self.parse(_MetricsFile, self.read(name), name, "")
        metrics: list[Metric] = []
        seen: set[str] = set()
        ids: set[str] = set()
        group_ids: set[str] = set()
        for group_position, raw in enumerate(raw_file.groups, 1):
            where = f"group #{group_position}"
            raw_group = self.parse(_RawGroup, raw, name, where)
            group = self.text(raw_group.group, name, where, "group name")
            where = f"group {group!r}"
            group_id = raw_group.id
            if not _GROUP_ID_RE.match(group_id):
                raise self.fail(name, where, "bad group id (expected lowercase letters only)")
            if group_id in group_ids:
                raise self.fail(name, where, f"duplicate group id {group_id!r}")
            group_ids.add(group_id)
            for position, raw_metric_data in enumerate(raw_group.metrics, 1):
                where = f"group {group!r} metric #{position}"
                raw_metric = self.parse(_RawMetric, raw_metric_data, name, where)
                metric_name = self.text(raw_metric.name, name, where, "name")
                where = f"metric {metric_name!r}"
                self.text(raw_metric.description, name, where, "description")
                if metric_name in seen:
                    raise self.fail(name, where, "duplicate metric name")
                seen.add(metric_name)
                match = _METRIC_ID_RE.match(raw_metric.id)
                if match is None or len(raw_metric.id) > MAX_ID_LENGTH:
                    raise self.fail(
                        name,
                        where,
                        f"bad id format (expected <group id>.<slug>, a lowercase hyphenated "
                        f"slug, at most {MAX_ID_LENGTH} characters)",
                    )
                if match["group"] != group_id:
                    raise self.fail(
                        name, where, f"id does not match its group (ids start with '{group_id}.')"
                    )
                if raw_metric.id in ids:
                    raise self.fail(name, where, f"duplicate id {raw_metric.id!r}")
                ids.add(raw_metric.id)
                for key in ("low", "high"):
                    anchor = self.text(getattr(raw_metric, key), name, where, key)
                    if len(anchor) > MAX_ANCHOR_LENGTH:
                        raise self.fail(
                            name,
                            where,
                            f"'{key}' is {len(anchor)} characters (at most {MAX_ANCHOR_LENGTH})",
                        )
                metrics.append(
                    self.build(
                        Metric,
                        name,
                        where,
                        id=raw_metric.id,
                        group_id=group_id,
                        group=group,
                        name=metric_name,
                        description=raw_metric.description,
                        low=raw_metric.low,
                        high=raw_metric.high,
                    )
                )
        if not metrics:
            raise self.fail(name, "", "no metrics")
        return tuple(metrics)

    # -- principles.yaml --

    def principles(self) -> tuple[tuple[Principle, ...], str]:
        """Load principles.yaml: the principles and the closing note (its intro is for readers)."""
        name = "principles.yaml"
        raw_file = self.parse(_PrinciplesFile, self.read(name), name, "")
        self.text(raw_file.note, name, "", "note")
        principles: list[Principle] = []
        for position, raw in enumerate(raw_file.principles, 1):
            where = f"principle #{position}"
            raw_principle = self.parse(_RawPrinciple, raw, name, where)
            where = f"principle {raw_principle.number}"
            if raw_principle.number != position:
                raise self.fail(
                    name,
                    where,
                    f"principles must be numbered 1, 2, ... in order (expected {position})",
                )
            self.text(raw_principle.name, name, where, "name")
            self.text(raw_principle.description, name, where, "description")
            principles.append(
                self.build(
                    Principle,
                    name,
                    where,
                    number=raw_principle.number,
                    name=raw_principle.name,
                    description=raw_principle.description,
                )
            )
        if not principles:
            raise self.fail(name, "", "no principles")
        return tuple(principles), raw_file.note

    # -- projects.yaml --

    def projects(self, levels: Sequence[Level]) -> tuple[Project, ...]:
        """Load projects.yaml: the numbered projects and the checklist item naming each."""
        name = "projects.yaml"
        raw_file = self.parse(_ProjectsFile, self.read(name), name, "")
        checklist = {item.id: item for level in levels for item in level.checklist}
        projects: list[Project] = []
        for position, raw in enumerate(raw_file.projects, 1):
            where = f"project #{position}"
            raw_project = self.parse(_RawProject, raw, name, where)
            where = f"project {raw_project.number}"
            if raw_project.number != position:
                raise self.fail(
                    name,
                    where,
                    f"projects must be numbered 1, 2, ... in order (expected {position})",
                )
            self.text(raw_project.name, name, where, "name")
            self.text(raw_project.group, name, where, "group")
            level = raw_project.level
            if level not in LEVEL_NUMBERS:
                raise self.fail(
                    name,
                    where,
                    f"unknown level {level} (levels are {LEVEL_NUMBERS[0]}-{LEVEL_NUMBERS[-1]})",
                )
            project_id = raw_project.id
            match = _ID_RE.match(project_id)
            prefix = f"l{level}.{PROJECT}."
            if (
                match is None
                or match["category"] != PROJECT
                or len(match["slug"]) > MAX_SLUG_LENGTH
                or len(project_id) > MAX_ID_LENGTH
            ):
                raise self.fail(
                    name, where, f"bad id format (expected {prefix}<a lowercase hyphenated slug>)"
                )
            if not project_id.startswith(prefix):
                raise self.fail(
                    name,
                    where,
                    f"id does not match its place (level {level} project ids start with "
                    f"'{prefix}')",
                )
            if project_id in self.id_origin:
                raise self.fail(name, where, f"duplicate id (also in {self.id_origin[project_id]})")
            self.id_origin[project_id] = self.label(name)
            item = checklist.get(raw_project.checklist)
            if item is None:
                raise self.fail(
                    name,
                    where,
                    f"'checklist' is {raw_project.checklist!r}, "
                    "not a checklist item of levels.yaml",
                )
            if item.level != level:
                raise self.fail(
                    name,
                    where,
                    f"'checklist' {item.id} is on level {item.level}, not on the project's "
                    f"level {level}",
                )
            projects.append(
                self.build(
                    Project,
                    name,
                    where,
                    id=project_id,
                    title=raw_project.name,
                    level=level,
                    category=PROJECT,
                    number=raw_project.number,
                    group=raw_project.group,
                    checklist_id=item.id,
                )
            )
        if not projects:
            raise self.fail(name, "", "no projects")
        return tuple(projects)

    def build(self, model: Callable[..., _M], name: str, where: str, /, **fields: Any) -> _M:
        """Construct a public model, turning pydantic errors into RoadmapError."""
        try:
            return model(**fields)
        except ValidationError as exc:
            raise self.fail(name, where, _describe(exc)) from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    return {
        list: "a list",
        str: "a text",
        int: "a number",
        float: "a number",
        bool: "true/false",
    }.get(type(value), type(value).__name__)


def load_roadmap(path: Path | None = None) -> Roadmap:
    """Load the roadmap from a data folder (default: `default_data_dir()`)."""
    data_dir = Path(path) if path is not None else default_data_dir()
    if not data_dir.is_dir():
        raise RoadmapError(f"{data_dir}: roadmap data folder not found")
    loader = _Loader(data_dir)
    start_title, levels = loader.levels()
    phases = loader.phases()
    metrics = loader.metrics()
    principles, note = loader.principles()
    projects = loader.projects(levels)
    return Roadmap(
        levels=levels,
        start_title=start_title,
        phases=phases,
        metrics=metrics,
        principles=principles,
        projects=projects,
        note=note,
    )
