"""The tools a session offers: Python functions (:class:`Tool`) and raw tool configs (MCP servers
and the like) that pass through to ``session.update`` unchanged."""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from .schema import ToolSignature, tool_name

DEFAULT_TIMEOUT_S = 30.0

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: `schema` is a dict
class Tool:
    """A Python function offered to the model.

    ``schema`` is the JSON Schema of the parameters (the ``parameters`` of the session's tool
    entry). Build one with :meth:`from_function`; constructing it directly lets you state your own
    ``schema`` while the arguments are still validated against the signature.
    """

    fn: Callable[..., Any]
    name: str
    description: str
    schema: dict[str, Any]
    timeout_s: float = DEFAULT_TIMEOUT_S
    signature: ToolSignature | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        tool_name(self.fn, self.name)  # raises ValueError for a name the API would refuse
        if not (isinstance(self.timeout_s, (int, float)) and math.isfinite(self.timeout_s)) or (
            self.timeout_s <= 0
        ):
            raise ValueError(
                f"timeout must be a positive number of seconds, not {self.timeout_s!r}"
            )
        if self.signature is None:
            object.__setattr__(self, "signature", ToolSignature(self.fn))

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> Tool:
        sig = ToolSignature(fn)
        return cls(
            fn=fn,
            name=tool_name(fn, name),
            description=sig.doc_description if description is None else description,
            schema=sig.parameters_schema,
            timeout_s=DEFAULT_TIMEOUT_S if timeout is None else timeout,
            signature=sig,
        )

    @property
    def is_async(self) -> bool:
        fn = self.fn
        if inspect.iscoroutinefunction(fn):
            return True
        # An instance whose class defines `async def __call__`.
        return not isinstance(fn, type) and inspect.iscoroutinefunction(type(fn).__call__)

    def session_tool(self) -> dict[str, Any]:
        """The entry for the session's ``tools`` list."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": copy.deepcopy(self.schema),
        }


class ToolRegistry:
    """The session's tools, in the order they were added.

    Adding a tool under a name already present replaces it in place (re-running a notebook cell
    that defines a tool should update it, not fail). ``on_change()`` is called after every change,
    so the owner can send a new ``session.update``.

    Mutate it from one thread at a time (the kernel's). Readers on other threads (the comm
    handler may run on a subshell thread; the dispatcher's workers list the tools in an error)
    need no lock: a change builds a new map and swaps it in, so a reader sees the tools before the
    change or after it, never half of it. The dispatcher keeps the :class:`Tool` it found for the
    whole call.
    """

    def __init__(
        self,
        tools: Iterable[Callable[..., Any] | Tool | Mapping[str, Any]] = (),
        *,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        # One ordered map for both kinds; a raw config is keyed by its server_label or name.
        self._entries: dict[str, Tool | dict[str, Any]] = {}
        self.on_change: Callable[[], None] | None = (
            None  # set below: the initial tools are no change
        )
        for t in tools:
            self.add(t)
        self.on_change = on_change

    # -- changing ----------------------------------------------------------------------------------
    def add(
        self,
        tool: Callable[..., Any] | Tool | Mapping[str, Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> Tool | dict[str, Any]:
        """Add a function, a :class:`Tool`, or a raw tool config (``{"type": "mcp", ...}``).

        Returns what was stored. Keyword arguments apply to functions only.
        """
        entry: Tool | dict[str, Any]
        if isinstance(tool, Mapping):
            if name is not None or description is not None or timeout is not None:
                raise TypeError("name=, description= and timeout= apply to Python functions only")
            entry = _raw_config(tool)
            key = _raw_key(entry)
        elif isinstance(tool, Tool):
            if name is not None or description is not None or timeout is not None:
                tool = Tool(
                    fn=tool.fn,
                    name=tool.name if name is None else tool_name(tool.fn, name),
                    description=tool.description if description is None else description,
                    schema=tool.schema,
                    timeout_s=tool.timeout_s if timeout is None else timeout,
                    signature=tool.signature,
                )
            entry, key = tool, tool.name
        elif callable(tool):
            entry = Tool.from_function(tool, name=name, description=description, timeout=timeout)
            key = entry.name
        else:
            raise TypeError(
                f"a tool is a function, a Tool or a tool config dict, not {type(tool).__name__}"
            )
        self._entries = {**self._entries, key: entry}  # in place if the key is there
        self._changed()
        return entry

    @overload
    def tool(self, fn: F, /) -> F: ...
    @overload
    def tool(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> Callable[[F], F]: ...
    def tool(
        self,
        fn: F | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> F | Callable[[F], F]:
        """Decorator: ``@reg.tool`` or ``@reg.tool(name=..., timeout=...)``; also ``reg.tool(fn)``.
        Returns the function unchanged."""

        def register(f: F) -> F:
            self.add(f, name=name, description=description, timeout=timeout)
            return f

        return register if fn is None else register(fn)

    def remove(self, tool: str | Callable[..., Any] | Tool) -> None:
        """Remove by name (a raw config by its ``server_label`` or ``name``), by function or by
        :class:`Tool`. ``KeyError`` if it is not there."""
        key = self._key_of(tool)
        if key is None:
            raise KeyError(f"no tool {tool!r}; tools: {', '.join(self._entries) or 'none'}")
        self._entries = {k: e for k, e in self._entries.items() if k != key}
        self._changed()

    def clear(self) -> None:
        if self._entries:
            self._entries = {}
            self._changed()

    # -- reading -----------------------------------------------------------------------------------
    def get(self, name: str) -> Tool | None:
        """The Python tool called ``name``, if any."""
        entry = self._entries.get(name)
        return entry if isinstance(entry, Tool) else None

    def is_external(self, name: str) -> bool:
        """True if ``name`` is a raw ``{"type": "function"}`` config: its calls are answered by
        someone else (the user's own code), not by the dispatcher."""
        entry = self._entries.get(name)
        return isinstance(entry, dict) and entry.get("type") == "function"

    @property
    def tools(self) -> list[Tool]:
        return [e for e in self._entries.values() if isinstance(e, Tool)]

    @property
    def names(self) -> list[str]:
        return list(self._entries)

    def items(self) -> list[tuple[str, Tool | dict[str, Any]]]:
        """``(key, entry)`` pairs, in order, from one snapshot."""
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Tool | dict[str, Any]]:
        return iter(list(self._entries.values()))

    def __repr__(self) -> str:
        return f"ToolRegistry({', '.join(self._entries) or 'empty'})"

    def session_tools(self) -> list[dict[str, Any]]:
        """The ``tools`` list for ``session.update``: function entries and raw configs, in order.
        Copies: changing them does not change the registry."""
        return [
            e.session_tool() if isinstance(e, Tool) else copy.deepcopy(e)
            for e in self._entries.values()
        ]

    def session_update(self) -> dict[str, Any]:
        """A ``session.update`` client event that sets the session's tools to these.

        It carries only ``type`` and ``tools``: GA rejects a whole update with an unknown field,
        and leaving the rest out leaves the rest of the session as it is.
        """
        return {
            "type": "session.update",
            "session": {"type": "realtime", "tools": self.session_tools()},
        }

    # -- internals ---------------------------------------------------------------------------------
    def _key_of(self, tool: str | Callable[..., Any] | Tool) -> str | None:
        if isinstance(tool, str):
            return tool if tool in self._entries else None
        if isinstance(tool, Tool):
            return tool.name if self._entries.get(tool.name) is tool else None
        for key, entry in self._entries.items():
            if isinstance(entry, Tool) and entry.fn is tool:
                return key
        return None

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


def _raw_config(config: Mapping[str, Any]) -> dict[str, Any]:
    kind = config.get("type")
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"a tool config needs a 'type' (e.g. 'mcp'), got {dict(config)!r}")
    return copy.deepcopy(dict(config))  # ours: later changes to the caller's dict do not leak in


def _raw_key(config: dict[str, Any]) -> str:
    for field_name in ("server_label", "name"):
        value = config.get(field_name)
        if isinstance(value, str) and value:
            return value
    raise ValueError(
        f"a {config['type']!r} tool config needs a 'server_label' or a 'name' to be told apart "
        "from the others"
    )
