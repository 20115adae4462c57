"""The incident reviews the report cites are in the repository, as summaries of our own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reports.incidents import CATALOGUE, REVIEWS

ROOT = Path(__file__).resolve().parents[2]
#: Where the original documents are, when this machine has them (they are not shipped).
SEEDS = ROOT.parent / "shared" / "seeds"


def test_every_cited_review_is_shipped_and_every_incident_cites_one() -> None:
    for path in REVIEWS.values():
        assert (ROOT / path).is_file(), path
    for incident in CATALOGUE:
        assert incident.review, f"{incident.id} cites no summary in docs/incidents/"
    index = (ROOT / "docs" / "incidents" / "README.md").read_text(encoding="utf-8")
    for path in REVIEWS.values():
        assert Path(path).name in index


def shared_runs(summary: str, original: str, words: int = 12) -> list[str]:
    """Runs of `words` consecutive words a summary shares with its original."""
    def tokens(text: str) -> list[str]:
        return re.findall(r"[\w']+", text.lower())

    source = tokens(original)
    grams = {" ".join(source[i:i + words]) for i in range(len(source) - words + 1)}
    mine = tokens(summary)
    return [" ".join(mine[i:i + words]) for i in range(len(mine) - words + 1)
            if " ".join(mine[i:i + words]) in grams]


def test_the_copy_check_catches_a_copied_sentence() -> None:
    original = "one two three four five six seven eight nine ten eleven twelve thirteen"
    assert shared_runs("x " + original, original)
    assert not shared_runs("one two three four five six seven eight nine ten eleven", original)


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the original documents are not on this machine")
@pytest.mark.parametrize(("seed", "path"), sorted(REVIEWS.items()))
def test_summaries_are_in_our_own_words(seed: str, path: str) -> None:
    original = (SEEDS / seed).read_text(encoding="utf-8")
    summary = (ROOT / path).read_text(encoding="utf-8")
    assert shared_runs(summary, original) == []
