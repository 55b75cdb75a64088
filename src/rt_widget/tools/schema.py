"""A Python function's signature as a Realtime function tool: its JSON Schema, and the validation
of the model's arguments back into the annotated Python types.

pydantic does both halves from one object: a model built from the signature describes the
parameters (``model_json_schema``) and turns the model's JSON into the annotated types
(``model_validate``: dataclasses, TypedDicts, Enums, nested models, lax numbers). Doing this by
hand would be a second, weaker copy of pydantic.

Decisions:
    * A parameter without an annotation accepts any JSON value (its schema has no ``type``), so
      a quick ``def lookup(query):`` still works; its docstring description still reaches the model.
    * ``*args`` cannot be filled from a JSON object: ``TypeError``. ``**kwargs`` is allowed: extra
      arguments from the model land in it (the schema then allows additional properties).
    * Parameters with a default are optional; Python applies the default, not pydantic.
    * Numbers are accepted where a ``str`` is annotated (models send ``12345`` for a zip code);
      otherwise pydantic's lax mode applies (``"3"`` -> 3, ``"true"`` -> True).
    * The schema is made compact and self-contained for the model: pydantic's ``title`` keys are
      dropped and ``$ref``s are inlined, except for recursive types, which keep ``$defs``.
"""

from __future__ import annotations

import copy
import inspect
import re
import sys
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import typing_extensions
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from pydantic.fields import FieldInfo

from .docstrings import parse_docstring

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""What the Realtime API accepts as a function name."""

_MAX_ERRORS_SHOWN = 8


class ArgumentError(ValueError):
    """The model's arguments do not fit the function. The message is meant for the model."""


@dataclass(frozen=True)
class _Param:
    name: str
    field: str  # the pydantic field's name; the parameter's name is its alias
    kind: inspect._ParameterKind
    default: Any  # inspect.Parameter.empty when required


class ToolSignature:
    """How to describe a function to the model and how to call it with the model's arguments."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.qualname = _callable_name(fn) or repr(fn)
        try:
            sig = inspect.signature(fn, eval_str=True)
        except NameError as exc:
            raise TypeError(
                f"cannot resolve the type hints of {self.qualname}: {exc}. Types in a tool's "
                "annotations must be defined at module level, not inside a function"
            ) from None
        except (ValueError, TypeError) as exc:
            raise TypeError(f"cannot read the signature of {fn!r}: {exc}") from None

        docs = parse_docstring(inspect.getdoc(fn))
        self.doc_description = docs.description
        self.params: list[_Param] = []
        self.var_keyword = False
        fields: dict[str, Any] = {}
        annotations: dict[str, Any] = {}
        for i, p in enumerate(sig.parameters.values()):
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                raise TypeError(
                    f"{self.qualname} takes *{p.name}: a tool's arguments arrive as a JSON object "
                    "of named values, so *args cannot be filled; use named parameters"
                )
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                self.var_keyword = True
                continue
            annotation = Any if p.annotation is inspect.Parameter.empty else p.annotation
            annotation = _portable(annotation, p.name, self.qualname)
            field_name = f"p{i}"  # never collides with BaseModel's own attributes
            info: dict[str, Any] = {"alias": p.name}
            description = docs.params.get(p.name)
            if description and not _has_field_description(annotation):
                info["description"] = description
            default = ... if p.default is inspect.Parameter.empty else p.default
            fields[field_name] = (annotation, Field(default, **info))
            annotations[p.name] = annotation
            self.params.append(_Param(p.name, field_name, p.kind, p.default))

        # Unknown top-level arguments are checked in bind(), not with extra="forbid": pydantic
        # passes a model's config down to nested dataclasses and TypedDicts, which should keep
        # their own (lenient) handling of extra keys.
        config = ConfigDict(coerce_numbers_to_str=True)
        try:
            self.model: type[BaseModel] = create_model("Arguments", __config__=config, **fields)
            raw_schema = self.model.model_json_schema()
        except Exception as exc:  # pydantic's errors for types it cannot handle
            raise TypeError(_unsupported_message(self.qualname, annotations, exc)) from None
        self.parameters_schema = compact_schema(raw_schema)
        if not self.var_keyword:
            self.parameters_schema["additionalProperties"] = False

    def bind(self, arguments: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Validate the model's arguments and return ``(args, kwargs)`` for the function.

        Raises :class:`ArgumentError` with a message the model can act on.
        """
        if not isinstance(arguments, Mapping):
            raise ArgumentError(f"arguments must be a JSON object, not {_json_kind(arguments)}")
        known = {p.name for p in self.params}
        extra = {k: v for k, v in arguments.items() if k not in known}
        if extra and not self.var_keyword:
            raise ArgumentError(
                f"unknown argument{'s' if len(extra) > 1 else ''} "
                f"{', '.join(map(repr, extra))}; the parameters are: "
                f"{', '.join(p.name for p in self.params) or 'none'}"
            )
        try:
            validated = self.model.model_validate(
                {k: v for k, v in arguments.items() if k in known}
            )
        except ValidationError as exc:
            raise ArgumentError(_validation_message(exc)) from None
        given = validated.model_fields_set
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for p in self.params:
            if p.kind is inspect.Parameter.POSITIONAL_ONLY:
                # Positional-only parameters cannot be skipped, so pass the default explicitly.
                args.append(getattr(validated, p.field) if p.field in given else p.default)
            elif p.field in given:
                # Omitted parameters are left out so that Python applies its own defaults.
                kwargs[p.name] = getattr(validated, p.field)
        kwargs.update(extra)  # only with **kwargs; passed as the model sent them
        return args, kwargs


def function_schema(
    fn: Callable[..., Any], name: str | None = None, description: str | None = None
) -> dict[str, Any]:
    """The Realtime session's tool entry for ``fn``.

    ``{"type": "function", "name", "description", "parameters"}``, the parameters' JSON Schema
    derived from the type hints and their descriptions from the docstring (Google, NumPy or Sphinx
    style). ``name`` defaults to the function's ``__name__``, ``description`` to the docstring's
    text before its first section. Raises ``TypeError`` if the function cannot be a tool, and
    ``ValueError`` for a name the API would refuse.
    """
    sig = ToolSignature(fn)
    return {
        "type": "function",
        "name": tool_name(fn, name),
        "description": sig.doc_description if description is None else description,
        "parameters": sig.parameters_schema,
    }


def tool_name(fn: Callable[..., Any], name: str | None = None) -> str:
    """``name`` or the function's own, checked against the API's pattern."""
    if name is None:
        name = _callable_name(fn)
        if name is None or not NAME_PATTERN.match(name):
            raise ValueError(
                f"{fn!r} has no name usable as a tool name (letters, digits, '_' or '-', at most "
                "64); pass name=..."
            )
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(
            f"tool name {name!r} is not allowed: use 1 to 64 letters, digits, '_' or '-'"
        )
    return name


# -- the schema, compacted -------------------------------------------------------------------------
# Keywords whose value is a schema, a list of schemas, or a map of name -> schema. Only these are
# walked: "title" is dropped where it is a keyword, never where it is a property's name or inside
# a default or an enum value.
_SCHEMA_VALUED = frozenset(
    {
        "items",
        "additionalProperties",
        "not",
        "contains",
        "propertyNames",
        "if",
        "then",
        "else",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
_SCHEMA_LISTS = frozenset({"anyOf", "allOf", "oneOf", "prefixItems"})
_SCHEMA_MAPS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
)
_REF_PREFIX = "#/$defs/"


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline ``$ref``s (except recursive ones) and drop ``title`` keywords."""
    defs: dict[str, Any] = schema.get("$defs", {})
    recursive = {name for name in defs if _reaches(defs, name, name)}
    root = {k: v for k, v in schema.items() if k != "$defs"}
    out: dict[str, Any] = _strip_titles(_inline(root, defs, recursive))
    if recursive:
        out["$defs"] = {
            name: _strip_titles(_inline(defs[name], defs, recursive)) for name in sorted(recursive)
        }
    return out


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            found.add(ref[len(_REF_PREFIX) :])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _reaches(defs: dict[str, Any], start: str, target: str) -> bool:
    seen: set[str] = set()
    todo = list(_refs(defs.get(start)))
    while todo:
        name = todo.pop()
        if name == target:
            return True
        if name not in seen:
            seen.add(name)
            todo.extend(_refs(defs.get(name)))
    return False


def _inline(node: Any, defs: dict[str, Any], keep: set[str]) -> Any:
    if isinstance(node, list):
        return [_inline(v, defs, keep) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
        name = ref[len(_REF_PREFIX) :]
        if name not in keep and name in defs:
            target = _inline(copy.deepcopy(defs[name]), defs, keep)
            # Keywords beside the $ref (a parameter's own description, its default) win.
            siblings = {k: _inline(v, defs, keep) for k, v in node.items() if k != "$ref"}
            return {**target, **siblings}
    return {k: _inline(v, defs, keep) for k, v in node.items()}


def _strip_titles(node: Any) -> Any:
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in _SCHEMA_VALUED:
            out[key] = _strip_titles(value)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_strip_titles(v) for v in value]
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: _strip_titles(v) for k, v in value.items()}
        else:
            out[key] = value  # enum, const, default, examples...: data, not schemas
    return out


# -- helpers ---------------------------------------------------------------------------------------
def _callable_name(fn: Any) -> str | None:
    name = getattr(fn, "__name__", None)
    if name is None and hasattr(fn, "func"):  # functools.partial
        name = getattr(fn.func, "__name__", None)
    if name is None and callable(fn) and not isinstance(fn, type):
        name = type(fn).__name__  # an instance with __call__
    return name if isinstance(name, str) else None


def _has_field_description(annotation: Any) -> bool:
    """``Annotated[int, Field(description=...)]`` states its own description; keep it."""
    if typing.get_origin(annotation) is not Annotated:
        return False
    return any(isinstance(m, FieldInfo) and m.description for m in annotation.__metadata__)


def _json_kind(value: Any) -> str:
    kinds = {
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return kinds.get(type(value), type(value).__name__)


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:_MAX_ERRORS_SHOWN]:
        where = ".".join(str(x) for x in err["loc"]) or "arguments"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - _MAX_ERRORS_SHOWN
    if more > 0:
        parts.append(f"... and {more} more")
    return "invalid arguments: " + "; ".join(parts)


def _unsupported_message(qualname: str, annotations: dict[str, Any], exc: Exception) -> str:
    # Point at the parameter whose type pydantic cannot handle, if one alone fails.
    for name, annotation in annotations.items():
        try:
            TypeAdapter(annotation).json_schema()
        except Exception as inner:
            return (
                f"parameter {name!r} of {qualname}: its type {_type_repr(annotation)} cannot be "
                f"described as JSON Schema ({_first_line(inner)})"
            )
    return f"{qualname} cannot be a tool: {_first_line(exc)}"


def _type_repr(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else repr(tp)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- typing.TypedDict on Python < 3.12 -------------------------------------------------------------
# pydantic refuses ``typing.TypedDict`` before 3.12 (it needs typing_extensions' version), yet
# notebooks use typing's. Such classes are rebuilt as typing_extensions TypedDicts with the same
# fields, required keys and docstring, wherever they appear in a parameter's annotation.
_NEEDS_PORT = sys.version_info < (3, 12)
_ported: dict[type, type] = {}


def _portable(tp: Any, param: str, qualname: str, _stack: tuple[type, ...] = ()) -> Any:
    if not _NEEDS_PORT:
        return tp
    if _is_typing_typeddict(tp):
        if tp in _ported:
            return _ported[tp]
        if tp in _stack:
            raise TypeError(
                f"parameter {param!r} of {qualname}: the recursive TypedDict {tp.__name__} must be "
                "declared with typing_extensions.TypedDict on Python < 3.12"
            )
        hints = typing.get_type_hints(tp, include_extras=True)
        fields = {}
        for key, hint in hints.items():
            inner = _portable(_unwrap_required(hint), param, qualname, (*_stack, tp))
            wrapper = (
                typing_extensions.Required
                if key in tp.__required_keys__
                else (typing_extensions.NotRequired)
            )
            fields[key] = wrapper[inner]
        ported = typing_extensions.TypedDict(tp.__name__, fields)  # type: ignore[misc]
        ported.__doc__ = tp.__doc__
        ported.__module__ = tp.__module__
        ported.__qualname__ = tp.__qualname__
        _ported[tp] = ported
        return ported
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if not args or origin is None or origin is typing.Literal:
        return tp
    if origin is Annotated:
        inner = _portable(args[0], param, qualname, _stack)
        return tp if inner is args[0] else Annotated[(inner, *tp.__metadata__)]
    new_args = tuple(_portable(a, param, qualname, _stack) for a in args)
    if all(a is b for a, b in zip(new_args, args, strict=True)):
        return tp
    if origin is typing.Union or type(tp).__name__ == "UnionType":
        return typing.Union[new_args]  # noqa: UP007 - built from a tuple at run time
    try:
        return origin[new_args]
    except TypeError:
        return tp  # an exotic generic: leave it to pydantic's own message


def _is_typing_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and typing.is_typeddict(tp) and type(tp).__module__ == "typing"


_REQUIRED_MARKERS = {
    marker
    for module in (typing, typing_extensions)
    for marker in (getattr(module, "Required", None), getattr(module, "NotRequired", None))
    if marker is not None
}


def _unwrap_required(hint: Any) -> Any:
    if typing.get_origin(hint) in _REQUIRED_MARKERS:
        return typing.get_args(hint)[0]
    return hint
