"""The HTML report of a small real run, rendered in headless Chromium (Debian's /usr/bin/chromium,
driven by Playwright's Python package through ``executable_path``; no browser download).

It must load with no console error and no request beyond its own file, show every section,
fill the coverage and fault tables, draw its charts (non-empty SVG) and keep every column's
cells aligned with its header. Each check also runs on a planted bad report, so each can fail.

``CALHARNESS_REPORT_SCREENSHOT=PATH`` keeps a full-page screenshot of the real report there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness_cli.report_runs import small_run

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]
SECTIONS = ("summary", "failures", "trend", "rca", "code-coverage", "fault-coverage", "checkers",
            "performance", "scenarios")
CHARTS = ("booking-flow", "endpoint-latency", "capacity")

#: .ci/run sets this: there a missing browser is a failure, not a skip.
REQUIRED = os.environ.get("CALHARNESS_REQUIRE_BROWSER") == "1"

if REQUIRED:
    from playwright import sync_api
else:
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="Playwright's Python package is not installed "
                                   "(pip install -e '.[dev]')")
if REQUIRED and not CHROMIUM.exists():
    raise RuntimeError(f"CALHARNESS_REQUIRE_BROWSER=1 but there is no Chromium at {CHROMIUM}")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")

#: Runs in the page: every problem the report shows, as text.
CHECKS_JS = """
([sections, charts]) => {
  const problems = [];
  for (const id of sections) {
    const el = document.getElementById(id);
    if (!el) { problems.push(`section #${id} missing`); continue; }
    if (el.getBoundingClientRect().height <= 0) problems.push(`section #${id} not shown`);
  }
  const covRows = document.querySelectorAll('#code-coverage table.coverage tr');
  if (covRows.length < 2) problems.push('coverage table empty');
  for (const row of Array.from(covRows).slice(1)) {
    if (!/\\d/.test(row.cells[2]?.textContent || '')) problems.push('coverage row without figures');
  }
  if (!document.querySelector('#fault-coverage table.matrix.http td.hit'))
    problems.push('fault matrix empty');
  if (document.querySelectorAll('#fault-coverage table.injections tr').length < 2)
    problems.push('fault table empty');
  for (const name of charts) {
    const svg = document.querySelector(`svg[data-chart="${name}"]`);
    if (!svg) { problems.push(`chart ${name} missing`); continue; }
    const box = svg.getBoundingClientRect();
    const marks = Array.from(svg.querySelectorAll('rect, circle')).filter(m => {
      const b = m.getBoundingClientRect(); return b.width > 0 && b.height > 0; });
    if (box.width <= 0 || box.height <= 0 || marks.length === 0)
      problems.push(`chart ${name} drawn empty`);
  }
  document.querySelectorAll('table').forEach((table, t) => {
    const rows = Array.from(table.rows);
    if (rows.length < 2) return;
    const head = Array.from(rows[0].cells);
    for (const row of rows.slice(1)) {
      const cells = Array.from(row.cells);
      if (cells.length !== head.length) continue;
      cells.forEach((cell, i) => {
        const want = getComputedStyle(head[i]).textAlign, got = getComputedStyle(cell).textAlign;
        if (want !== got) problems.push(`table ${t} column ${i}: header ${want}, cell ${got}`);
        const h = head[i].getBoundingClientRect(), c = cell.getBoundingClientRect();
        if (Math.abs(h.left - c.left) > 1 || Math.abs(h.right - c.right) > 1)
          problems.push(`table ${t} column ${i}: cell not under its header`);
      });
    }
  });
  return Array.from(new Set(problems));
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def inspect(browser: Any, html_file: Path, screenshot: Path | None = None) -> list[str]:
    """Open the file with every other request refused; return what is wrong with it."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def only_the_file(route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            problems.append(f"request to {route.request.url}")
            route.abort()

    page.route("**/*", only_the_file)
    try:
        page.goto(html_file.resolve().as_uri())
        page.wait_for_load_state("load")
        problems += page.evaluate(CHECKS_JS, [list(SECTIONS), list(CHARTS)])
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        page.emulate_media(media="print")
        if page.locator("nav").first.is_visible():
            problems.append("navigation still shown when printed")
        if len(page.pdf(format="A4")) < 10_000:
            problems.append("printed report is empty")
    finally:
        page.close()
    return problems


@pytest.fixture(scope="module")
def real_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out, _ = small_run(tmp_path_factory)
    return out / "report.html"


def test_the_real_report_renders_whole_and_aligned(browser: Any, real_report: Path) -> None:
    shot = os.environ.get("CALHARNESS_REPORT_SCREENSHOT")
    assert inspect(browser, real_report, Path(shot) if shot else None) == []


def _planted(real_report: Path, tmp_path: Path, change: Any) -> Path:
    path = tmp_path / "planted.html"
    path.write_text(change(real_report.read_text(encoding="utf-8")), encoding="utf-8")
    return path


PLANTED = {
    "console error": (lambda h: h.replace("</body>", "<script>console.error('boom')</script>"
                                          "</body>"), "console error: boom"),
    "missing section": (lambda h: h.replace('id="trend"', 'id="elsewhere"'),
                        "section #trend missing"),
    "empty coverage": (lambda h: re.sub(r'(<table class="coverage">\s*<tr>.*?</tr>).*?</table>',
                                        r"\1</table>", h, count=1, flags=re.S),
                       "coverage table empty"),
    "empty fault matrix": (lambda h: h.replace('class="c hit"', 'class="c"'),
                           "fault matrix empty"),
    "chart drawn empty": (lambda h: re.sub(r'(<svg[^>]*data-chart="capacity"[^>]*>).*?</svg>',
                                           r"\1</svg>", h, count=1, flags=re.S),
                          "chart capacity drawn empty"),
    "misaligned column": (lambda h: h.replace('<th class="n">statements</th>',
                                              "<th>statements</th>"),
                          "header left, cell right"),
    "outside request": (lambda h: h.replace("</body>", '<img src="http://example.invalid/x.png">'
                                            "</body>"), "request to http://example.invalid"),
}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_each_check_catches_its_planted_fault(name: str, browser: Any, real_report: Path,
                                              tmp_path: Path) -> None:
    change, expected = PLANTED[name]
    problems = inspect(browser, _planted(real_report, tmp_path, change))
    assert any(expected in p for p in problems), problems
