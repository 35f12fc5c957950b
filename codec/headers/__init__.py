"""Typed custom headers: the ``extFields`` of a request or response as frozen
dataclasses.

Each header declares one wire table (Java field name, V2 letter, attribute,
Java type, ``@CFNotNull``) and inherits its conversions from
:class:`CustomHeader`; see :mod:`codec.headers.base` for the rules.
"""

from .base import Boolean, CustomHeader, Integer, Long, String, WireField, WireTable
from .client import UnregisterClientRequestHeader
from .route import GetRouteInfoRequestHeader
from .send import SendMessageRequestHeader, SendMessageResponseHeader

__all__ = [
    "CustomHeader",
    "WireTable",
    "WireField",
    "String",
    "Integer",
    "Long",
    "Boolean",
    "SendMessageRequestHeader",
    "SendMessageResponseHeader",
    "GetRouteInfoRequestHeader",
    "UnregisterClientRequestHeader",
]
