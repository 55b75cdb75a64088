"""The emulator's logger: every line says it comes from the emulator, never carries a secret."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

PREFIX = "rt_widget emulator"


class _Prefixed(logging.LoggerAdapter):  # type: ignore[type-arg]
    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        return f"{PREFIX}: {msg}", kwargs


log = _Prefixed(logging.getLogger("rt_widget.emulator"), {})
