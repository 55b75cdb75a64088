"""A small validator for JSON-shaped requests, with the service's error codes and messages.

The Realtime service is strict: an unknown field anywhere rejects the whole request
(``Unknown parameter: 'session.audio.input.foo'.``), and a wrong type or value names the exact
path. A validator here is a function ``(value, path) -> value`` that returns the (copied) value or
raises :class:`~rt_widget.emulator.errors.ProtocolError` carrying that path as ``param``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ProtocolError

Validator = Callable[[Any, str], Any]


def describe(value: Any) -> str:
    """How the service names a JSON value's type in its messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _wrong_type(path: str, expected: str, value: Any) -> ProtocolError:
    return ProtocolError(
        f"Invalid type for '{path}': expected {expected}, but got {describe(value)} instead.",
        code="invalid_type",
        param=path,
    )


def _quote_list(values: tuple[Any, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def missing(path: str) -> ProtocolError:
    return ProtocolError(
        f"Missing required parameter: '{path}'.", code="missing_required_parameter", param=path
    )


def string() -> Validator:
    def check(value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise _wrong_type(path, "a string", value)
        return value

    return check


def boolean() -> Validator:
    def check(value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise _wrong_type(path, "a boolean", value)
        return value

    return check


def _bounded(value: float, path: str, lo: float | None, hi: float | None, kind: str) -> None:
    if lo is not None and value < lo:
        raise ProtocolError(
            f"Invalid '{path}': {kind} below minimum value. "
            f"Expected a value >= {lo}, but got {value} instead.",
            code=f"{kind}_below_min_value",
            param=path,
        )
    if hi is not None and value > hi:
        raise ProtocolError(
            f"Invalid '{path}': {kind} above maximum value. "
            f"Expected a value <= {hi}, but got {value} instead.",
            code=f"{kind}_above_max_value",
            param=path,
        )


def integer(lo: int | None = None, hi: int | None = None) -> Validator:
    def check(value: Any, path: str) -> int:
        # JSON has one number type; 300.0 is as good as 300, 300.5 is not.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong_type(path, "an integer", value)
        _bounded(value, path, lo, hi, "integer")
        return value

    return check


def number(lo: float | None = None, hi: float | None = None) -> Validator:
    def check(value: Any, path: str) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise _wrong_type(path, "a decimal", value)
        _bounded(value, path, lo, hi, "decimal")
        return float(value)

    return check


def literal(*allowed: Any) -> Validator:
    types = {type(a) for a in allowed}

    def check(value: Any, path: str) -> Any:
        # type() rather than isinstance: True must not pass for 1, nor 1 for True.
        if not any(type(value) is type(a) and value == a for a in allowed):
            if type(value) not in types:
                raise _wrong_type(path, describe(allowed[0]), value)
            raise ProtocolError(
                f"Invalid value: '{value}'. Supported values are: {_quote_list(allowed)}.",
                code="invalid_value",
                param=path,
            )
        return value

    return check


def nullable(inner: Validator) -> Validator:
    def check(value: Any, path: str) -> Any:
        return None if value is None else inner(value, path)

    return check


def anything() -> Validator:
    """Any JSON value (tool parameters, metadata): copied, not inspected."""

    def check(value: Any, path: str) -> Any:
        return copy.deepcopy(value)

    return check


def array(item: Validator, min_items: int = 0, max_items: int | None = None) -> Validator:
    def check(value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise _wrong_type(path, "an array", value)
        if len(value) < min_items:
            raise ProtocolError(
                f"Invalid '{path}': empty array. Expected an array with minimum length "
                f"{min_items}, but got an array with length {len(value)} instead.",
                code="empty_array" if not value else "array_below_min_length",
                param=path,
            )
        if max_items is not None and len(value) > max_items:
            raise ProtocolError(
                f"Invalid '{path}': array too long. Expected an array with maximum length "
                f"{max_items}, but got an array with length {len(value)} instead.",
                code="array_above_max_length",
                param=path,
            )
        return [item(v, f"{path}[{i}]") for i, v in enumerate(value)]

    return check


def obj(fields: Mapping[str, Validator], required: tuple[str, ...] = ()) -> Validator:
    """An object whose keys must all be in ``fields``; unknown keys reject the whole request."""

    def check(value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _wrong_type(path, "an object", value)
        out: dict[str, Any] = {}
        for key, v in value.items():
            sub = f"{path}.{key}" if path else key
            if key not in fields:
                raise ProtocolError(
                    f"Unknown parameter: '{sub}'.", code="unknown_parameter", param=sub
                )
            out[key] = fields[key](v, sub)
        for key in required:
            if key not in value:
                raise missing(f"{path}.{key}" if path else key)
        return out

    return check


def tagged(tag: str, variants: Mapping[str, Validator]) -> Validator:
    """A union told apart by one field (``type``), like the service's discriminated unions."""
    choose = literal(*variants)

    def check(value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _wrong_type(path, "an object", value)
        if tag not in value:
            raise missing(f"{path}.{tag}")
        kind = choose(value[tag], f"{path}.{tag}")
        result: dict[str, Any] = variants[kind](value, path)
        return result

    return check


def either(*validators: Validator) -> Validator:
    """The first validator that accepts the value wins.

    When none does, the most telling error is raised: one from a branch that accepted the value's
    type and failed deeper (a missing ``name`` in a tool choice object), else the last one.
    """

    def check(value: Any, path: str) -> Any:
        errors: list[ProtocolError] = []
        for validate in validators:
            try:
                return validate(value, path)
            except ProtocolError as e:
                errors.append(e)
        telling = [e for e in errors if e.code != "invalid_type" or e.param != path]
        raise (telling or errors)[-1]

    return check
