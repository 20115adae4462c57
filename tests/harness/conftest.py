"""Fixtures of the harness tests (the hand-made world lives in ``checkworld``)."""

from __future__ import annotations

import pytest
from checkworld import World


@pytest.fixture
def world() -> World:
    return World()
