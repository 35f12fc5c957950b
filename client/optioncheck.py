"""Constructor options checked the way a user needs: a typo names the closest
valid option, an enum option says which values it takes, and ``help()``
shows every option with its default.

Java's client would not compile a misspelt setter; a keyword argument
silently turns into a ``TypeError`` about ``__init__`` instead, so each
client constructor is wrapped to raise :class:`~codec.errors.ConfigError`.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .codec.errors import ConfigError

__all__ = ["checked_options", "enum_option", "option_defaults", "options_doc"]

E = TypeVar("E", bound=enum.Enum)
C = TypeVar("C", bound=type)


def enum_option(enum_cls: type[E], name: str, value: object) -> E:
    """``value`` as a member of ``enum_cls``: a member, its name (any case)
    or its value; else a ConfigError listing the valid names."""
    if isinstance(value, enum_cls):
        return value
    if isinstance(value, str):
        member = enum_cls.__members__.get(value) or enum_cls.__members__.get(value.upper())
        if member is not None:
            return member
    try:
        return enum_cls(value)
    except (ValueError, TypeError):
        valid = ", ".join(enum_cls.__members__)
        raise ConfigError(f"{name} must be one of {valid} (a {enum_cls.__name__} or its name), not {value!r}") from None


def option_defaults(init: Callable[..., Any], *extra: type) -> dict[str, Any]:
    """Every keyword option of ``init`` (a constructor) and of the ``extra``
    option dataclasses that its ``**kwargs`` feed, with its default."""
    options: dict[str, Any] = {}
    for param in inspect.signature(init).parameters.values():
        if param.kind is param.KEYWORD_ONLY or (param.kind is param.POSITIONAL_OR_KEYWORD and param.name != "self"):
            options[param.name] = param.default
    for cls in extra:
        for f in dataclasses.fields(cls):
            if f.init and f.name not in options:
                options[f.name] = f.default if f.default is not dataclasses.MISSING else "(computed)"
    return options


def _unknown(kind: str, given: Iterable[str], valid: Iterable[str]) -> None:
    known = list(valid)
    for name in given:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid options: {', '.join(sorted(known))}"
            raise ConfigError(f"{kind} got an unknown option {name!r}{hint}")


def checked_options(*extra: type, kind: str | None = None, like: Callable[..., Any] | None = None) -> Callable[[C], C]:
    """Class decorator: unknown keyword options of the constructor raise
    ConfigError naming the closest valid one.  ``like`` is the constructor
    whose options count (for a facade that forwards ``**options``); ``extra``
    the option dataclasses that its ``**kwargs`` feed.  Also appends the
    option table to the class docstring."""

    def wrap(cls: C) -> C:
        init = cls.__init__  # type: ignore[misc]
        source = like or init
        valid = option_defaults(source, *extra)
        name = kind or cls.__name__

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            if not kwargs.keys() <= valid.keys():
                _unknown(name, kwargs, valid)
            init(self, *args, **kwargs)

        cls.__init__ = __init__  # type: ignore[misc]
        cls.__doc__ = inspect.cleandoc(cls.__doc__ or "") + "\n\n" + options_doc(valid)
        return cls

    return wrap


def options_doc(options: dict[str, Any]) -> str:
    """The option table of a class docstring: ``name = default`` lines."""

    def show(value: Any) -> str:
        if value is inspect.Parameter.empty:
            return "(required)"
        if isinstance(value, enum.Enum):
            return f"{type(value).__name__}.{value.name}"
        return value if isinstance(value, str) and value == "(computed)" else repr(value)

    lines = ["Options (keyword arguments, with their defaults; times in seconds unless the name says millis)::", ""]
    lines += [f"    {name} = {show(default)}" for name, default in options.items() if name != "group"]
    return "\n".join(lines)
