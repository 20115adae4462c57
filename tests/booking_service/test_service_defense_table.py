"""`booking_service.defenses` is the ablation's map: its switch table lists every defense with the
functions that apply it, and no other module reads a defense switch."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import booking_service
from booking_service.defenses import DEFENSE_NAMES, SWITCHES

PACKAGE = Path(booking_service.__file__).parent
SWITCH_READ = re.compile(r"\b(?:ctx|settings)\.defenses\.\w+")
#: Start-up (context.py) hands the two structural switches to their defense functions.
MAY_READ = {"defenses.py", "context.py"}


def test_the_switch_table_lists_every_defense_in_contract_order() -> None:
    assert list(SWITCHES) == list(DEFENSE_NAMES)


def test_every_function_in_the_table_names_its_defense() -> None:
    for name, switch in SWITCHES.items():
        assert switch.functions, name
        assert switch.called_from, name
        for function in switch.functions:
            assert f"`{name}`" in (function.__doc__ or ""), (name, function.__qualname__)


def test_every_caller_in_the_table_exists_and_calls_one_of_its_functions() -> None:
    for name, switch in SWITCHES.items():
        names = {f.__name__ for f in switch.functions}
        for dotted in switch.called_from:
            where, _, attribute = dotted.rpartition(".")
            caller = getattr(importlib.import_module(f"booking_service.{where}"), attribute)
            source = inspect.getsource(caller)
            assert any(n in source for n in names), (name, dotted)


def test_only_the_defenses_module_reads_the_switches() -> None:
    readers = {
        str(path.relative_to(PACKAGE)): SWITCH_READ.findall(path.read_text("utf-8"))
        for path in PACKAGE.rglob("*.py")
        if path.name not in MAY_READ
    }
    assert {path: reads for path, reads in readers.items() if reads} == {}
