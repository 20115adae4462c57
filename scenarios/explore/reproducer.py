"""A shrunk failure as something a person can read and paste: text, and a ready pytest file.

The pytest file replays the step list through the same explorer the machine used, so it fails
exactly as the machine's run did (the same seed data, frozen start, and ids). It is tagged with
the defenses that were off when it was found: kept under scenarios/found/, it becomes a
regression scenario that `calharness ablate` proves still bites.
"""

from __future__ import annotations

import pprint
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scenarios.explore.machine import Failure


def render_text(failure: Failure) -> str:
    off = ", ".join(failure.defenses_off) or "none"
    lines = [f"calharness explore found a failure (seed {failure.seed}, defenses off: {off}), "
             f"shrunk to {len(failure.steps)} steps:"]
    lines += [f"  {i}. {step}" for i, step in enumerate(failure.steps, 1)]
    lines += ["", failure.error]
    return "\n".join(lines)


def _slug(failure: Failure) -> str:
    first_line = failure.error.splitlines()[1] if "\n" in failure.error else failure.error
    checker = re.match(r"\s*([a-z-]+):", first_line)
    what = checker.group(1) if checker else failure.kind.lower()
    parts = ["_".join(failure.defenses_off) or "all_on", what.replace("-", "_")]
    return "_".join(parts)


def render_pytest(failure: Failure) -> str:
    steps = pprint.pformat([s.to_json() for s in failure.steps], width=96, sort_dicts=False)
    off = list(failure.defenses_off)
    marks = "".join(f"@pytest.mark.defense({d!r})\n" for d in off)
    error = "\n".join(f"    {line[:92]}".rstrip() for line in failure.error.splitlines()[:12])
    return f'''"""Found by `calharness explore` (seed {failure.seed}, defenses off: {", ".join(off) or "none"}),
shrunk to {len(failure.steps)} steps. What broke when it was found:

{error}
"""

from __future__ import annotations

import pytest

from harness.world import World
from scenarios.explore.explorer import replay
from scenarios.explore.machine import NEEDS

pytestmark = [pytest.mark.area("explore"), pytest.mark.needs(*NEEDS)]

STEPS = {steps}


{marks}def test_{_slug(failure)}(world: World) -> None:
    replay(world, STEPS)
'''


def write_pytest(failure: Failure, directory: Path) -> Path:
    """Write the reproducer as `directory/test_found_<what>.py` (numbered if taken)."""
    directory.mkdir(parents=True, exist_ok=True)
    init = directory / "__init__.py"
    if not init.exists():
        init.write_text('"""Failures found by calharness explore."""\n')
    base = f"test_found_{_slug(failure)}"
    path = directory / f"{base}.py"
    n = 2
    while path.exists():
        path = directory / f"{base}_{n}.py"
        n += 1
    path.write_text(render_pytest(failure))
    return path
