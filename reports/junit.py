"""Read pytest's JUnit XML into :class:`~reports.model.ScenarioResult` rows.

With ``reports.pytest_plugin`` loaded, each ``<testcase>`` carries ``<property>`` elements for
its node id and its ``area``/``rca``/``defense`` markers (and Hypothesis statistics); without it
the node id is rebuilt from ``classname``/``name`` and the area guessed from the path.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from reports.model import HypothesisStat, ScenarioResult

#: Failure texts are cut to this many characters (the JUnit file keeps them whole).
MAX_FAILURE_CHARS = 20000


class ReportInputError(ValueError):
    """An input file the report cannot use (the message names it)."""


def read_junit(paths: Path | str | Iterable[Path | str]) -> list[ScenarioResult]:
    """Every test case in one or more JUnit XML files, in file order."""
    if isinstance(paths, str | Path):
        paths = [paths]
    results: list[ScenarioResult] = []
    for path in paths:
        path = Path(path)
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as exc:
            raise ReportInputError(f"cannot read JUnit XML {path}: {exc}") from None
        results.extend(_testcase(tc) for tc in root.iter("testcase"))
    return results


def _testcase(tc: ET.Element) -> ScenarioResult:
    props: dict[str, list[str]] = {}
    for prop in tc.iter("property"):
        name = prop.get("name")
        if name is not None:
            props.setdefault(name, []).append(prop.get("value", ""))
    nodeid = (props.get("nodeid") or [_nodeid(tc)])[0]
    outcome, text = _outcome(tc)
    stats = props.get("hypothesis_statistics")
    return ScenarioResult(
        nodeid=nodeid, outcome=outcome,
        area=(props.get("area") or [_guess_area(nodeid)])[0],
        incidents=_unique(props.get("rca", [])), defenses=_unique(props.get("defense", [])),
        duration_s=float(tc.get("time") or 0.0), failure=_shorten(text),
        hypothesis=parse_hypothesis_statistics(nodeid, stats[0]) if stats else None,
        needs=_unique(props.get("needs", [])), missing=_unique(props.get("missing", [])),
    )


def _outcome(tc: ET.Element) -> tuple[str, str | None]:
    for tag, outcome in (("failure", "failed"), ("error", "error")):
        el = tc.find(tag)
        if el is not None:
            return outcome, _text(el)
    el = tc.find("skipped")
    if el is not None:
        outcome = "xfailed" if el.get("type") == "pytest.xfail" else "skipped"
        return outcome, _text(el)
    return "passed", None


def _text(el: ET.Element) -> str:
    message = el.get("message") or ""
    body = (el.text or "").strip()
    if body and message and message not in body:
        return f"{message}\n{body}"
    return body or message


def _shorten(text: str | None) -> str | None:
    if not text:
        return None
    if len(text) <= MAX_FAILURE_CHARS:
        return text
    return text[:MAX_FAILURE_CHARS] + f"\n… ({len(text) - MAX_FAILURE_CHARS} more characters)"


def _nodeid(tc: ET.Element) -> str:
    """``a.b.test_x.TestY`` + ``test_z[1]`` → ``a/b/test_x.py::TestY::test_z[1]`` (best effort)."""
    classname, name = tc.get("classname") or "", tc.get("name") or "?"
    parts = classname.split(".")
    # The module is the last part starting with "test"; what follows are classes.
    cut = next((i for i in range(len(parts) - 1, -1, -1) if parts[i].startswith("test")), None)
    if cut is None:
        return f"{classname}::{name}" if classname else name
    module = "/".join(parts[: cut + 1]) + ".py"
    return "::".join([module, *parts[cut + 1:], name])


def _guess_area(nodeid: str) -> str:
    """``scenarios/<area>/…`` → area; other tests → ``tests``."""
    parts = nodeid.split("::", 1)[0].split("/")
    if len(parts) >= 3 and parts[0] == "scenarios":
        return parts[1]
    return parts[0] if len(parts) > 1 else "other"


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


_PHASE = re.compile(r"during (\w+) phase \(([\d.]+) seconds\)")
_COUNTS = re.compile(r"(\d+) passing, (\d+) failing, and (\d+) invalid")


def parse_hypothesis_statistics(nodeid: str, text: str) -> HypothesisStat:
    """Numbers from Hypothesis's statistics text (its format is not promised stable, so the text
    is kept whole and a line that does not parse leaves the number unknown)."""
    stat = HypothesisStat(nodeid=nodeid, text=text)
    seconds = 0.0
    found_phase = False
    for line_phase, line_counts in _phase_blocks(text):
        found_phase = True
        seconds += line_phase[1]
        if line_phase[0] == "generate" and line_counts is not None:
            stat.passing, stat.failing, stat.invalid = line_counts
    if found_phase:
        stat.seconds = round(seconds, 3)
    return stat


def _phase_blocks(text: str) -> Iterable[tuple[tuple[str, float], tuple[int, int, int] | None]]:
    current: tuple[str, float] | None = None
    counts: tuple[int, int, int] | None = None
    for line in text.splitlines():
        phase = _PHASE.search(line)
        if phase:
            if current is not None:
                yield current, counts
            current, counts = (phase.group(1), float(phase.group(2))), None
            continue
        found = _COUNTS.search(line)
        if found and current is not None:
            counts = (int(found.group(1)), int(found.group(2)), int(found.group(3)))
    if current is not None:
        yield current, counts
