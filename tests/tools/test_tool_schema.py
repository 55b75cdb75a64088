"""Session tool entries from Python signatures, and the model's arguments back into Python types.

Every entry is checked three ways: against openai's GA session tool type, as a valid JSON Schema
(jsonschema's metaschema check), and by validating example arguments with it.
"""

from __future__ import annotations  # string annotations: the schema code must resolve them

import dataclasses
import enum
import typing
from typing import Annotated, Any, Literal, Optional

import jsonschema
import pytest
import typing_extensions
from pydantic import BaseModel, Field
from tool_helpers import assert_session_tool

from rt_widget.tools import ArgumentError, Tool, ToolSignature, function_schema


def checked(entry: dict[str, Any], *valid: dict[str, Any]) -> dict[str, Any]:
    """The entry's parameters, after checking the entry and that ``valid`` arguments pass."""
    assert_session_tool(entry)
    schema = entry["parameters"]
    jsonschema.Draft202012Validator.check_schema(schema)
    for arguments in valid:
        jsonschema.validate(arguments, schema)
    return schema


def rejects(schema: dict[str, Any], arguments: dict[str, Any]) -> bool:
    return not jsonschema.Draft202012Validator(schema).is_valid(arguments)


# -- types used by the tools below (module level, so string annotations resolve) -------------------
class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0


class Address(typing.TypedDict):
    """A postal address."""

    street: str
    zip: str


class Options(typing_extensions.TypedDict, total=False):
    verbose: bool
    depth: int


class Person(BaseModel):
    """Someone."""

    name: str = Field(description="Full name")
    age: int | None = None


class Node(BaseModel):
    label: str
    children: list[Node] = []


@dataclasses.dataclass
class Book:
    title: str


class Opaque:
    """Not a type pydantic knows."""


# -- primitives, descriptions, defaults ------------------------------------------------------------
def test_primitives_required_defaults_and_descriptions() -> None:
    def get_weather(city: str, days: int, threshold: float = 0.5, metric: bool = True) -> str:
        """Get the forecast.

        Args:
            city: The city.
            days: How many days ahead.
        """
        return ""

    entry = function_schema(get_weather)
    assert entry["type"] == "function"
    assert entry["name"] == "get_weather"
    assert entry["description"] == "Get the forecast."
    schema = checked(
        entry, {"city": "Oslo", "days": 2}, {"city": "Oslo", "days": 2, "metric": False}
    )
    assert schema == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city."},
            "days": {"type": "integer", "description": "How many days ahead."},
            "threshold": {"type": "number", "default": 0.5},
            "metric": {"type": "boolean", "default": True},
        },
        "required": ["city", "days"],
        "additionalProperties": False,
    }
    assert rejects(schema, {"city": "Oslo"})  # days missing
    assert rejects(schema, {"city": "Oslo", "days": 1, "nope": 1})


def test_name_and_description_overrides() -> None:
    def f(x: int) -> int:
        """Ignored summary."""
        return x

    entry = function_schema(f, name="double-it", description="Doubles.")
    assert (entry["name"], entry["description"]) == ("double-it", "Doubles.")
    checked(entry, {"x": 1})


def test_no_parameters_and_no_docstring() -> None:
    def now():  # type: ignore[no-untyped-def]
        return 0

    entry = function_schema(now)
    assert entry["description"] == ""
    assert checked(entry, {}) == {"type": "object", "properties": {}, "additionalProperties": False}


def test_missing_annotation_accepts_any_json_value() -> None:
    def lookup(query, limit: int = 3):  # type: ignore[no-untyped-def]
        """Search.

        :param query: Anything to look for.
        """

    schema = checked(function_schema(lookup), {"query": "x"}, {"query": [1, {"a": None}]})
    assert schema["properties"]["query"] == {"description": "Anything to look for."}
    assert schema["required"] == ["query"]


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ('"""S.\n\n    Args:\n        city: The city.\n    """', "The city."),
        (
            '"""S.\n\n    Parameters\n    ----------\n    city : str\n        The city.\n    """',
            "The city.",
        ),
        ('"""S.\n\n    :param city: The city.\n    """', "The city."),
    ],
    ids=["google", "numpy", "sphinx"],
)
def test_parameter_descriptions_in_each_docstring_style(doc: str, expected: str) -> None:
    namespace: dict[str, Any] = {}
    exec(f"def tool(city: str) -> str:\n    {doc}\n    return city\n", namespace)
    entry = function_schema(namespace["tool"])
    assert entry["description"] == "S."
    assert checked(entry, {"city": "x"})["properties"]["city"]["description"] == expected


def test_annotated_field_description_beats_the_docstring() -> None:
    def f(n: Annotated[int, Field(description="From Field", ge=1)]) -> None:
        """S.

        Args:
            n: From the docstring.
        """

    schema = checked(function_schema(f), {"n": 1})
    assert schema["properties"]["n"] == {
        "type": "integer",
        "description": "From Field",
        "minimum": 1,
    }


# -- richer types ----------------------------------------------------------------------------------
def test_literal_and_enums() -> None:
    def paint(color: Color, unit: Literal["c", "f"] = "c", level: Level = Level.LOW) -> None:
        pass

    schema = checked(
        function_schema(paint), {"color": "red"}, {"color": "green", "unit": "f", "level": 2}
    )
    props = schema["properties"]
    assert props["color"] == {"type": "string", "enum": ["red", "green"]}
    assert props["unit"] == {"type": "string", "enum": ["c", "f"], "default": "c"}
    assert props["level"]["enum"] == [1, 2] and props["level"]["default"] == 1
    assert rejects(schema, {"color": "blue"})


def test_optional_both_spellings() -> None:
    def f(a: Optional[int], b: str | None = None) -> None:  # noqa: UP045 - both spellings
        pass

    schema = checked(function_schema(f), {"a": None}, {"a": 1, "b": "x"})
    assert schema["properties"]["a"] == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert schema["properties"]["b"]["default"] is None
    assert schema["required"] == ["a"]  # Optional is about the value, not about being required


def test_list_and_dict() -> None:
    def f(tags: list[str], scores: dict[str, float], book: dict[str, list[Address]]) -> None:
        pass

    schema = checked(
        function_schema(f),
        {"tags": ["a"], "scores": {"a": 1.5}, "book": {"home": [{"street": "s", "zip": "1"}]}},
    )
    assert schema["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert schema["properties"]["scores"] == {
        "type": "object",
        "additionalProperties": {"type": "number"},
    }
    address = schema["properties"]["book"]["additionalProperties"]["items"]
    assert address["required"] == ["street", "zip"]  # a typing.TypedDict, deep inside
    assert rejects(schema, {"tags": "a", "scores": {}, "book": {}})


def test_typeddicts_are_inlined() -> None:
    def ship(to: Address, options: Options | None = None) -> None:
        pass

    schema = checked(
        function_schema(ship), {"to": {"street": "Main", "zip": "1"}, "options": {"depth": 2}}
    )
    to = schema["properties"]["to"]
    assert to["type"] == "object"
    assert to["description"] == "A postal address."
    assert to["required"] == ["street", "zip"]
    assert "$defs" not in schema and "$ref" not in str(schema)
    assert "title" not in str(schema)
    options = schema["properties"]["options"]["anyOf"][0]
    assert set(options["properties"]) == {"verbose", "depth"} and "required" not in options


def test_dataclass_and_pydantic_model() -> None:
    def plot(points: list[Point], who: Person) -> None:
        """Plot.

        Args:
            who: The person plotting.
        """

    schema = checked(function_schema(plot), {"points": [{"x": 1}], "who": {"name": "Ada"}})
    point = schema["properties"]["points"]["items"]
    assert point["required"] == ["x"] and point["properties"]["y"]["default"] == 0.0
    who = schema["properties"]["who"]
    assert who["description"] == "The person plotting."  # the parameter's own, not the class's
    assert who["properties"]["name"] == {"type": "string", "description": "Full name"}


def test_recursive_model_keeps_defs() -> None:
    def walk(tree: Node) -> None:
        pass

    schema = checked(function_schema(walk), {"tree": {"label": "a", "children": [{"label": "b"}]}})
    assert schema["properties"]["tree"] == {"$ref": "#/$defs/Node"}
    assert set(schema["$defs"]) == {"Node"}
    assert schema["$defs"]["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert rejects(schema, {"tree": {"children": []}})


def test_property_named_title_is_kept() -> None:
    def add(book: Book, title: str = "x") -> None:
        pass

    schema = checked(function_schema(add), {"book": {"title": "Dune"}})
    assert schema["properties"]["book"]["properties"] == {"title": {"type": "string"}}
    assert "title" in schema["properties"]


def test_kwargs_allow_extra_arguments() -> None:
    def f(a: int, **rest: Any) -> None:
        pass

    schema = checked(function_schema(f), {"a": 1, "anything": "else"})
    assert "additionalProperties" not in schema


# -- refusals --------------------------------------------------------------------------------------
def test_var_positional_is_refused() -> None:
    def f(*values: int) -> None:
        pass

    with pytest.raises(TypeError, match=r"\*values"):
        function_schema(f)


def test_unsupported_type_names_the_parameter() -> None:
    def f(ok: int, thing: Opaque) -> None:
        pass

    with pytest.raises(TypeError, match=r"parameter 'thing' of .*Opaque"):
        function_schema(f)


def test_unresolvable_string_annotation() -> None:
    def f(x: NotDefinedAnywhere) -> None:  # type: ignore[name-defined]  # noqa: F821
        pass

    with pytest.raises(TypeError, match="cannot resolve the type hints"):
        function_schema(f)


@pytest.mark.parametrize("name", ["", "has space", "dots.not.ok", "x" * 65, "é"])
def test_bad_names(name: str) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        function_schema(lambda: None, name=name)


def test_lambda_needs_a_name() -> None:
    with pytest.raises(ValueError, match="pass name="):
        function_schema(lambda: None)
    assert function_schema(lambda: None, name="noop")["name"] == "noop"


def test_callable_object_and_bound_method() -> None:
    class Counter:
        def __call__(self, step: int = 1) -> int:
            return step

        def add(self, n: int) -> int:
            """Add n."""
            return n

    counter = Counter()
    assert function_schema(counter)["name"] == "Counter"
    entry = function_schema(counter.add)
    assert entry["name"] == "add" and list(entry["parameters"]["properties"]) == ["n"]


# -- arguments into Python -------------------------------------------------------------------------
def test_bind_coerces_into_annotated_types() -> None:
    def f(
        p: Point,
        to: Address,
        color: Color,
        n: int,
        zip_code: str,
        people: list[Person],
        when: Level = Level.LOW,
    ) -> None:
        pass

    args, kwargs = ToolSignature(f).bind(
        {
            "p": {"x": "1.5"},
            "to": {"street": "Main", "zip": 12345},
            "color": "green",
            "n": "3",
            "zip_code": 2100,
            "people": [{"name": "Ada", "age": 36}],
        }
    )
    assert args == []
    assert kwargs["p"] == Point(1.5, 0.0)
    assert kwargs["to"] == {"street": "Main", "zip": "12345"}
    assert kwargs["color"] is Color.GREEN
    assert kwargs["n"] == 3
    assert kwargs["zip_code"] == "2100"
    assert kwargs["people"] == [Person(name="Ada", age=36)]
    assert "when" not in kwargs  # Python applies its own default


def test_defaults_are_pythons_own() -> None:
    sentinel: list[int] = []

    def f(a: list[int] = sentinel) -> list[int]:  # the identity is the point
        return a

    tool = Tool.from_function(f)
    assert tool.signature is not None
    args, kwargs = tool.signature.bind({})
    assert f(*args, **kwargs) is sentinel


def test_positional_only_parameters() -> None:
    def f(a: int, b: int = 10, /, c: int = 0) -> tuple[int, int, int]:
        return (a, b, c)

    sig = ToolSignature(f)
    args, kwargs = sig.bind({"a": "1", "c": 3})
    assert f(*args, **kwargs) == (1, 10, 3)


def test_bind_errors_are_messages_for_the_model() -> None:
    def f(city: str, days: int, color: Color = Color.RED) -> None:
        pass

    sig = ToolSignature(f)
    with pytest.raises(ArgumentError, match=r"days: Field required"):
        sig.bind({"city": "Oslo"})
    with pytest.raises(ArgumentError, match=r"days: Input should be a valid integer"):
        sig.bind({"city": "Oslo", "days": "soon"})
    with pytest.raises(ArgumentError, match=r"color: Input should be 'red' or 'green'"):
        sig.bind({"city": "Oslo", "days": 1, "color": "blue"})
    with pytest.raises(
        ArgumentError, match=r"unknown argument 'town'; the parameters are: city, days"
    ):
        sig.bind({"town": "Oslo", "days": 1})
    with pytest.raises(ArgumentError, match="must be a JSON object, not an array"):
        sig.bind([1, 2])  # type: ignore[arg-type]


def test_kwargs_receive_unknown_arguments() -> None:
    def f(a: int, **rest: Any) -> dict[str, Any]:
        return {"a": a, **rest}

    args, kwargs = ToolSignature(f).bind({"a": "2", "extra": [1]})
    assert f(*args, **kwargs) == {"a": 2, "extra": [1]}
