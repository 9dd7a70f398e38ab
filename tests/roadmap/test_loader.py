"""Tests of the roadmap content (data/*.yaml) and its validating loader (bot.roadmap)."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.roadmap import (
    CATEGORIES,
    CATEGORY_LABELS,
    Item,
    Roadmap,
    RoadmapError,
    default_data_dir,
    load_roadmap,
)

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"
COVERAGE_SCRIPT = REPO.parent / "shared" / "tools" / "roadmap_coverage.py"
ID_RE = re.compile(
    r"^l[1-5]\.(knowledge|technical|projects|professional|check)\.[a-z0-9]+(-[a-z0-9]+)*$"
)

# sha256 of all item ids in document order, joined by newlines. Ids are stored in the
# database forever: if this fails, an id was renamed or removed. Only ever add ids.
IDS_SHA256 = "38bbec8b218f6da9a13cf9dc9fb920ec6ba5ad29f6318f4a2104065e6356aa77"
# The same for the metric ids and the project ids: they are stored with assessments and
# completions.
METRIC_IDS_SHA256 = "cb3dcccd99013741259a5a76a890ba46e3f685f9353cbb963576f5fd492505a1"
PROJECT_IDS_SHA256 = "1439bbfda24ccfda535295c89e5bc286d8d8618d8aac933f42b61f78ee65c33f"


@pytest.fixture(scope="module")
def shipped() -> Roadmap:
    """Load the shipped data once for this module."""
    return load_roadmap(DATA)


def broken_copy(tmp_path: Path, file: str, old: str, new: str, count: int = 1) -> Path:
    """Copy the real data folder to tmp_path/data and replace `old` by `new` in one file."""
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    path = data / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{old!r} not found in {file}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return data


def load_error(data: Path) -> str:
    """Load a broken folder and return the RoadmapError message."""
    with pytest.raises(RoadmapError) as info:
        load_roadmap(data)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- the shipped content ------------------------------------------------------------------


def test_default_data_dir_is_repo_data() -> None:
    assert default_data_dir() == DATA


def test_shipped_counts(shipped: Roadmap) -> None:
    assert [level.number for level in shipped.levels] == [1, 2, 3, 4, 5]
    milestones = [item for item in shipped.items if not item.is_checklist]
    checklist = [item for item in shipped.items if item.is_checklist]
    assert len(milestones) == 92
    assert len(checklist) == 38
    assert len(shipped.items) == 130
    assert len(shipped.phases) == 5
    assert len(shipped.metrics) == 15
    assert len(shipped.principles) == 5
    assert len(shipped.projects) == 15
    assert [len(shipped.checklist(n)) for n in range(1, 6)] == [7, 8, 8, 8, 7]
    assert [sum(len(v) for v in lv.milestones.values()) for lv in shipped.levels] == [
        17,
        18,
        19,
        19,
        19,
    ]


def test_ids_unique_and_well_formed(shipped: Roadmap) -> None:
    ids = [item.id for item in shipped.items]
    assert len(set(ids)) == len(ids)
    for item in shipped.items:
        assert ID_RE.match(item.id), item.id
        assert len(item.id) <= 60
        assert len(item.id.split(".")[2]) <= 40
        assert item.id.startswith(f"l{item.level}.{item.category}.")
        assert item.category in CATEGORIES
        assert shipped.item(item.id) is item


def test_ids_never_change(shipped: Roadmap) -> None:
    joined = "\n".join(item.id for item in shipped.items)
    assert hashlib.sha256(joined.encode()).hexdigest() == IDS_SHA256, (
        "item ids changed: ids live in the database forever, never rename or remove one"
    )


def test_metric_and_project_ids_never_change(shipped: Roadmap) -> None:
    metric_ids = "\n".join(metric.id for metric in shipped.metrics)
    project_ids = "\n".join(project.id for project in shipped.projects)
    assert hashlib.sha256(metric_ids.encode()).hexdigest() == METRIC_IDS_SHA256
    assert hashlib.sha256(project_ids.encode()).hexdigest() == PROJECT_IDS_SHA256


def test_metrics_have_ids_and_anchors_that_fit_a_select(shipped: Roadmap) -> None:
    assert [group for group, _ in shipped.metric_groups()] == [
        "Technical Competency",
        "Professional Growth",
        "Impact",
    ]
    assert len({m.id for m in shipped.metrics}) == 15
    for metric in shipped.metrics:
        assert re.fullmatch(r"(technical|professional|impact)\.[a-z0-9]+(-[a-z0-9]+)*", metric.id)
        assert metric.id.startswith(metric.group_id + ".")
        assert metric.low.strip() and metric.high.strip() and metric.low != metric.high
        assert len(f"1 · {metric.low}") <= 100 and len(f"5 · {metric.high}") <= 100
        assert shipped.metric(metric.id) is metric
    certifications = shipped.metric("technical.certifications")
    assert certifications is not None
    assert certifications.name == "Certification Achievements"
    assert (certifications.low, certifications.high) == (
        "No certification yet",
        "An advanced certification among others",
    )
    assert shipped.metric("no.such") is None


def test_projects_are_items_linked_to_the_checklist_item_naming_them(shipped: Roadmap) -> None:
    assert [(group, [p.number for p in ps]) for group, ps in shipped.project_groups()] == [
        ("Foundation", [1, 2, 3]),
        ("Cloud & Big Data", [4, 5, 6]),
        ("Advanced Data Engineering", [7, 8, 9]),
        ("Specialization & Mastery", [10, 11, 12]),
        ("Cutting-Edge Technologies", [13, 14, 15]),
    ]
    linked = {
        "l1.check.foundation-1-2": [1, 2],
        "l2.check.projects-3-5": [3, 4, 5],
        "l3.check.projects-6-9": [6, 7, 8, 9],
        "l4.check.projects-10-12": [10, 11, 12],
        "l5.check.projects-13-15": [13, 14, 15],
    }
    for checklist_id, numbers in linked.items():
        assert [p.number for p in shipped.projects_of(checklist_id)] == numbers
        for project in shipped.projects_of(checklist_id):
            assert shipped.linked_checklist(project) == shipped.item(checklist_id)
    assert shipped.projects_of("l1.check.python-training") == ()
    assert shipped.linked_checklist(shipped.items[0]) is None
    first = shipped.projects[0]
    assert first.id == "l1.project.foundation-1" and first.name == "Foundation Project 1"
    assert first.is_project and not first.is_checklist and first.category_label == "Project"
    assert shipped.item(first.id) is first
    # Projects are completable (trackable) but are not among the 130 milestone items.
    assert len(shipped.trackable) == 145 and first not in shipped.items


def test_spot_check_titles_and_ids(shipped: Roadmap) -> None:
    spark = shipped.item("l2.technical.spark-jobs")
    assert spark == Item(
        id="l2.technical.spark-jobs",
        title="Implement Spark jobs for large-scale data processing",
        level=2,
        category="technical",
    )
    check = shipped.item("l2.check.spark-job")
    assert check is not None
    assert check.title == "Implemented Spark job for large dataset processing"
    assert check.is_checklist
    first = shipped.items[0]
    assert first.id == "l1.knowledge.de-fundamentals"
    assert first.title == "Understand fundamental data engineering concepts and principles"
    last_check = shipped.checklist(5)[-1]
    assert last_check.id == "l5.check.projects-13-15"
    assert last_check.title == "Completed Cutting-Edge Technologies Projects 13-15"
    assert shipped.item("l1.professional.join-communities") is not None
    assert shipped.item("no.such.id") is None


def test_items_in_document_order(shipped: Roadmap) -> None:
    # All milestones level by level, then the Career Milestone Checklist level by level.
    assert shipped.items[91].id == "l5.professional.advance-profession"
    assert shipped.items[92].id == "l1.check.python-training"
    level = shipped.level(3)
    assert list(level.milestones) == ["knowledge", "technical", "projects", "professional"]
    assert level.items[0].id == "l3.knowledge.advanced-patterns"
    assert level.items[-1].id == "l3.check.projects-6-9"
    assert len(level.items) == 19 + 8


def test_levels(shipped: Roadmap) -> None:
    assert shipped.start_title == "Senior Data Analyst"
    assert shipped.level_title(0) == "Senior Data Analyst"
    assert [shipped.level_title(n) for n in range(1, 6)] == [
        "Junior Data Engineer",
        "Data Engineer",
        "Senior Data Engineer",
        "Principal Data Engineer",
        "Distinguished Data Engineer",
    ]
    assert [lv.months_label for lv in shipped.levels] == [
        "0-6 months",
        "6-12 months",
        "12-24 months",
        "24-36 months",
        "36+ months",
    ]
    one, five = shipped.level(1), shipped.level(5)
    assert (one.transition_from, one.transition_to) == (
        "Senior Data Analyst",
        "Junior Data Engineer",
    )
    assert (five.transition_from, five.transition_to) == (
        "Principal Data Engineer",
        "Distinguished/World-Class Data Engineer",
    )
    assert five.month_end is None
    for bad in (0, 6, -1):
        with pytest.raises(ValueError, match="unknown level"):
            shipped.level(bad)
    with pytest.raises(ValueError):
        shipped.checklist(9)
    with pytest.raises(ValueError):
        shipped.level_title(6)


def test_categories() -> None:
    assert CATEGORIES == ("knowledge", "technical", "projects", "professional", "check")
    assert [CATEGORY_LABELS[c] for c in CATEGORIES] == [
        "Knowledge",
        "Technical skills",
        "Projects",
        "Professional",
        "Checklist",
    ]


def test_phases_metrics_principles_projects(shipped: Roadmap) -> None:
    first, last = shipped.phases[0], shipped.phases[-1]
    assert first.title == "Analyst to Junior Data Engineer"
    assert first.focus == "Building foundational technical skills"
    assert first.activities[0] == "Take on ETL development tasks in your current role"
    assert first.months_label == "0-6 months"
    assert last.title == "Principal to Distinguished Data Engineer"
    assert last.months_label == "36+ months"
    assert all(len(phase.activities) == 5 for phase in shipped.phases)

    groups = [metric.group for metric in shipped.metrics]
    assert sorted(set(groups)) == ["Impact", "Professional Growth", "Technical Competency"]
    assert all(groups.count(group) == 5 for group in set(groups))
    mentorship = next(m for m in shipped.metrics if m.name == "Mentorship Impact")
    assert mentorship.description == "Success of individuals you've mentored"

    assert [p.name for p in shipped.principles] == [
        "Continuous Learning",
        "Community Engagement",
        "Experimentation",
        "Feedback Loops",
        "Adaptability",
    ]
    assert [p.number for p in shipped.principles] == [1, 2, 3, 4, 5]
    assert shipped.note.startswith("Remember that career progression is rarely linear.")
    assert shipped.note.endswith("celebrate your progress along the way.")

    assert [p.number for p in shipped.projects] == list(range(1, 16))
    assert [p.level for p in shipped.projects] == [1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5]
    assert shipped.projects[0].name == "Foundation Project 1"
    assert shipped.projects[0].group == "Foundation"
    assert shipped.projects[14].group == "Cutting-Edge Technologies"


@pytest.mark.parametrize(
    ("month", "phase"),
    [(0, 1), (5, 1), (6, 2), (11, 2), (12, 3), (23, 3), (24, 4), (35, 4), (36, 5), (100, 5)],
)
def test_phase_for_month(shipped: Roadmap, month: int, phase: int) -> None:
    assert shipped.phase_for_month(month).number == phase


def test_phase_for_negative_month(shipped: Roadmap) -> None:
    with pytest.raises(ValueError):
        shipped.phase_for_month(-1)


def test_models_are_frozen(shipped: Roadmap) -> None:
    item = shipped.items[0]
    with pytest.raises(ValueError):
        item.title = "changed"
    with pytest.raises(AttributeError):
        shipped.note = "changed"  # type: ignore[misc]


@pytest.mark.skipif(not COVERAGE_SCRIPT.exists(), reason="coverage script not available")
def test_coverage_script() -> None:
    result = subprocess.run(
        [sys.executable, str(COVERAGE_SCRIPT), str(DATA)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "coverage: 200 of 200 items" in result.stdout, result.stdout
    assert result.returncode == 0


# --- mistakes in the data -----------------------------------------------------------------


def test_duplicate_id(tmp_path: Path) -> None:
    data = broken_copy(
        tmp_path, "levels.yaml", "id: l2.check.first-blog-post", "id: l2.check.spark-job"
    )
    assert load_error(data) == (
        "data/levels.yaml: item l2.check.spark-job: duplicate id (also in data/levels.yaml)"
    )


def test_unknown_level(tmp_path: Path) -> None:
    data = broken_copy(tmp_path, "levels.yaml", "  - level: 5\n", "  - level: 7\n")
    assert load_error(data) == "data/levels.yaml: level 7: unknown level (levels are 1-5)"


def test_duplicate_level(tmp_path: Path) -> None:
    data = broken_copy(tmp_path, "levels.yaml", "  - level: 5\n", "  - level: 4\n")
    assert load_error(data) == "data/levels.yaml: level 4: duplicate level"


def test_missing_field(tmp_path: Path) -> None:
    data = broken_copy(
        tmp_path,
        "levels.yaml",
        "      - id: l2.technical.data-models\n        title:",
        "      - title:",
    )
    assert load_error(data) == (
        "data/levels.yaml: level 2 item #3 in technical ('Design and build data models'): "
        "missing field 'id'"
    )


def test_missing_level_field(tmp_path: Path) -> None:
    data = broken_copy(tmp_path, "levels.yaml", "    month_start: 12\n", "")
    assert load_error(data) == "data/levels.yaml: level 3: missing field 'month_start'"


def test_unknown_field(tmp_path: Path) -> None:
    data = broken_copy(
        tmp_path,
        "levels.yaml",
        'title: "Deploy and manage cloud resources"\n',
        'title: "Deploy and manage cloud resources"\n        colour: red\n',
    )
    assert load_error(data) == (
        "data/levels.yaml: item l2.technical.cloud-resources: unknown field 'colour'"
    )


def test_wrong_type(tmp_path: Path) -> None:
    data = broken_copy(tmp_path, "levels.yaml", "    month_start: 6\n", '    month_start: "6"\n')
    message = load_error(data)
    assert message.startswith("data/levels.yaml: level 2: field 'month_start': ")
    assert "integer" in message


def test_bad_yaml_syntax(tmp_path: Path) -> None:
    old = 'focus: "Leading and innovating"'
    data = broken_copy(tmp_path, "phases.yaml", old, "focus: Leading: and innovating")
    lines = (DATA / "phases.yaml").read_text(encoding="utf-8").splitlines()
    line = next(n for n, text in enumerate(lines, 1) if old in text)
    message = load_error(data)
    assert message.startswith(f"data/phases.yaml: line {line}, column ")
    assert "invalid YAML: mapping values are not allowed" in message


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    data = broken_copy(tmp_path, "projects.yaml", "version: 1\n", "version: 1\nversion: 1\n")
    message = load_error(data)
    assert message.startswith("data/projects.yaml: line ")
    assert "found duplicate key 'version'" in message


@pytest.mark.parametrize(
    "bad_id",
    [
        "l2.check.Spark_Job",
        "l2.check.spark--job",
        "l2.checklist.spark-job",
        "l2.check",
        "l2.check." + "x" * 41,
        "spark-job",
    ],
)
def test_bad_id_format(tmp_path: Path, bad_id: str) -> None:
    data = broken_copy(tmp_path, "levels.yaml", "id: l2.check.spark-job", f"id: {bad_id}")
    message = load_error(data)
    assert message.startswith(f"data/levels.yaml: item {bad_id}: bad id format (expected ")


def test_id_in_wrong_place(tmp_path: Path) -> None:
    data = broken_copy(tmp_path, "levels.yaml", "id: l2.check.spark-job", "id: l3.check.spark-job")
    assert load_error(data) == (
        "data/levels.yaml: item l3.check.spark-job: id does not match its place "
        "(level 2 checklist ids start with 'l2.check.')"
    )
    data = broken_copy(
        tmp_path / "other",
        "levels.yaml",
        "id: l2.technical.spark-jobs",
        "id: l2.knowledge.spark-jobs",
    )
    assert "item l2.knowledge.spark-jobs: id does not match its place" in load_error(data)


@pytest.mark.parametrize("blank", ['""', '"   "'])
def test_empty_title(tmp_path: Path, blank: str) -> None:
    data = broken_copy(tmp_path, "levels.yaml", '"Deploy and manage cloud resources"', blank)
    assert load_error(data) == "data/levels.yaml: item l2.technical.cloud-resources: empty title"


@pytest.mark.parametrize(
    "file", ["levels.yaml", "phases.yaml", "metrics.yaml", "principles.yaml", "projects.yaml"]
)
def test_missing_file(tmp_path: Path, file: str) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    (data / file).unlink()
    assert load_error(data) == f"data/{file}: missing file"


def test_missing_folder(tmp_path: Path) -> None:
    message = load_error(tmp_path / "nowhere")
    assert "nowhere" in message
    assert "not found" in message


def test_wrong_version(tmp_path: Path) -> None:
    data = broken_copy(tmp_path, "metrics.yaml", "version: 1\n", "version: 2\n")
    assert load_error(data) == "data/metrics.yaml: unsupported version 2 (expected 1)"


def test_phase_gap(tmp_path: Path) -> None:
    data = broken_copy(tmp_path, "phases.yaml", "    month_start: 12\n", "    month_start: 13\n")
    assert load_error(data) == "data/phases.yaml: phase 3: month_start is 13, expected 12"


def test_project_unknown_level(tmp_path: Path) -> None:
    data = broken_copy(
        tmp_path,
        "projects.yaml",
        '"Foundation Project 3"\n    group: "Foundation"\n    level: 2',
        '"Foundation Project 3"\n    group: "Foundation"\n    level: 9',
    )
    assert load_error(data) == "data/projects.yaml: project 3: unknown level 9 (levels are 1-5)"


def test_project_checklist_must_be_a_checklist_item_of_its_level(tmp_path: Path) -> None:
    data = broken_copy(
        tmp_path, "projects.yaml", "checklist: l2.check.projects-3-5", "checklist: l2.check.nope"
    )
    assert load_error(data) == (
        "data/projects.yaml: project 3: 'checklist' is 'l2.check.nope', "
        "not a checklist item of levels.yaml"
    )
    data = broken_copy(
        tmp_path / "other",
        "projects.yaml",
        "checklist: l2.check.projects-3-5",
        "checklist: l3.check.projects-6-9",
    )
    assert load_error(data) == (
        "data/projects.yaml: project 3: 'checklist' l3.check.projects-6-9 is on level 3, "
        "not on the project's level 2"
    )


def test_project_id_format_place_and_uniqueness(tmp_path: Path) -> None:
    data = broken_copy(
        tmp_path, "projects.yaml", "id: l1.project.foundation-2", "id: l1.project.foundation-1"
    )
    assert load_error(data) == (
        "data/projects.yaml: project 2: duplicate id (also in data/projects.yaml)"
    )
    data = broken_copy(
        tmp_path / "a", "projects.yaml", "id: l1.project.foundation-2", "id: l2.project.x"
    )
    assert load_error(data) == (
        "data/projects.yaml: project 2: id does not match its place "
        "(level 1 project ids start with 'l1.project.')"
    )
    data = broken_copy(
        tmp_path / "b", "projects.yaml", "id: l1.project.foundation-2", "id: Foundation_2"
    )
    assert load_error(data).startswith("data/projects.yaml: project 2: bad id format")
    data = broken_copy(
        tmp_path / "c",
        "projects.yaml",
        "id: l1.project.foundation-2",
        "id: l1.check.python-training",
    )
    assert load_error(data).startswith("data/projects.yaml: project 2: bad id format")


def test_metric_id_anchor_and_group_mistakes(tmp_path: Path) -> None:
    data = broken_copy(
        tmp_path, "metrics.yaml", "id: impact.innovation", "id: technical.innovation"
    )
    assert load_error(data) == (
        "data/metrics.yaml: metric 'Innovation': id does not match its group "
        "(ids start with 'impact.')"
    )
    data = broken_copy(tmp_path / "a", "metrics.yaml", "id: impact.innovation", "id: Innovation")
    assert load_error(data).startswith("data/metrics.yaml: metric 'Innovation': bad id format")
    data = broken_copy(
        tmp_path / "b", "metrics.yaml", "id: impact.innovation", "id: impact.business-value"
    )
    assert load_error(data) == (
        "data/metrics.yaml: metric 'Innovation': duplicate id 'impact.business-value'"
    )
    data = broken_copy(
        tmp_path / "c",
        "metrics.yaml",
        'low: "I follow existing approaches"',
        'low: "' + "x" * 91 + '"',
    )
    assert load_error(data) == (
        "data/metrics.yaml: metric 'Innovation': 'low' is 91 characters (at most 90)"
    )
    data = broken_copy(
        tmp_path / "d",
        "metrics.yaml",
        '        high: "I introduced approaches others adopted"\n',
        "",
    )
    assert load_error(data) == ("data/metrics.yaml: group 'Impact' metric #3: missing field 'high'")
    data = broken_copy(tmp_path / "e", "metrics.yaml", "  - id: impact\n", "  - id: technical\n")
    assert load_error(data) == "data/metrics.yaml: group 'Impact': duplicate group id 'technical'"


def test_wrong_transition(tmp_path: Path) -> None:
    data = broken_copy(tmp_path, "levels.yaml", 'from: "Junior Data Engineer"', 'from: "Nobody"')
    assert load_error(data) == (
        "data/levels.yaml: level 2: 'from' is 'Nobody' but the previous level is "
        "'Junior Data Engineer'"
    )


@pytest.mark.parametrize(
    "file", ["levels.yaml", "phases.yaml", "metrics.yaml", "principles.yaml", "projects.yaml"]
)
@pytest.mark.parametrize(
    "junk",
    [
        "",
        "- a list\n",
        "just text\n",
        "42\n",
        "version: 1\n",
        "version: 1\nextra: true\n",
        "version: 1\nlevels: 3\nphases: 3\ngroups: 3\nprinciples: 3\nprojects: 3\n",
        "version: 1\nlevels: [1]\nphases: [[]]\ngroups: [null]\nprinciples: [x]\nprojects: [{}]\n",
        "{[}\n",
        "\t: -\n",
    ],
)
def test_any_junk_gives_roadmap_error(tmp_path: Path, file: str, junk: str) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    (data / file).write_text(junk, encoding="utf-8")
    assert load_error(data).startswith(f"data/{file}: ")


def test_default_data_dir_prefers_installed_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.roadmap import loader

    package = tmp_path / "bot" / "roadmap"
    package.mkdir(parents=True)
    monkeypatch.setattr(loader, "__file__", str(package / "loader.py"))
    assert default_data_dir() == tmp_path / "data"
    installed = tmp_path / "bot" / "roadmap_data"
    shutil.copytree(DATA, installed)
    assert default_data_dir() == installed
    assert len(load_roadmap().items) == 130
