"""The shape of the code: no import cycle, no cog importing another, the core never a cog."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def modules() -> dict[str, Path]:
    found = {}
    for package in ("bot", "cogs"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Every import of bot/ and cogs/, lazy and TYPE_CHECKING ones included."""
    mods = modules()

    def known(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for module, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [known(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [known(f"{node.module}.{alias.name}") for alias in node.names]
            else:
                continue
            graph[module] |= {t for t in targets if t and t != module}
    return graph


def test_there_is_no_import_cycle() -> None:
    graph = import_graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == []


def test_no_cog_imports_another_and_the_core_imports_none() -> None:
    graph = import_graph()
    wrong = [
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if target.startswith("cogs.")
        and (not module.startswith("cogs.") or module.split(".")[1] != target.split(".")[1])
    ]
    assert wrong == []


def test_services_know_nothing_of_discord() -> None:
    graph = import_graph()
    for module, path in modules().items():
        if module.startswith(("bot.services", "bot.scheduler")) or module.endswith("._jobs"):
            assert not re.search(r"^\s*(from|import) discord\b", path.read_text(), re.M), module
            assert not any(t.startswith(("bot.ui", "bot.bot")) for t in graph[module]), module


def test_the_core_never_looks_a_cog_up() -> None:
    for path in (ROOT / "bot").rglob("*.py"):
        assert "get_cog(" not in path.read_text(), path


def test_every_view_and_form_is_answered_in_time() -> None:
    """Clicks and forms get their automatic defer (bot/ui/deferral.py) from SafeView and
    SafeModal: a view or form of the bot's own must derive from one of them."""
    import importlib
    import inspect

    import discord

    from bot.ui.replies import SafeModal, SafeView

    wrong = []
    for module in modules():
        if module.endswith("__main__") or ".migrations" in module:
            continue  # a program and Alembic's scripts, not importable as modules
        for name, value in vars(importlib.import_module(module)).items():
            if not inspect.isclass(value) or value.__module__ != module:
                continue
            if issubclass(value, discord.ui.View) and not issubclass(value, SafeView):
                wrong.append(f"{module}.{name}")
            if issubclass(value, discord.ui.Modal) and not issubclass(value, SafeModal):
                wrong.append(f"{module}.{name}")
    assert wrong == []
