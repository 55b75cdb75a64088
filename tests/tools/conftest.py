"""Fixtures for the tool tests."""

from __future__ import annotations

import pytest
from tool_helpers import Sink


@pytest.fixture
def sink() -> Sink:
    return Sink()
