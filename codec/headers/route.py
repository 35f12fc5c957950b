"""The GET_ROUTEINFO_BY_TOPIC (105) request header, sent to a name server.

Mirrors ``org.apache.rocketmq.remoting.protocol.header.namesrv.GetRouteInfoRequestHeader``
(``protocol.md`` 4.5).  ``accept_standard_json_only`` asks a 4.9.4+ name
server for strict JSON route data whatever the advertised ``version`` (7.2);
Java clients never set it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from ..enums import RequestCode
from .base import Boolean, CustomHeader, String, WireTable

__all__ = ["GetRouteInfoRequestHeader"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GetRouteInfoRequestHeader(CustomHeader):
    """The topic whose route a client asks the name server for."""

    WIRE: ClassVar[WireTable] = WireTable(
        String("topic", "topic", required=True),
        Boolean("acceptStandardJsonOnly", "accept_standard_json_only"),
    )
    REQUEST_CODE: ClassVar[int] = RequestCode.GET_ROUTEINFO_BY_TOPIC
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {RequestCode.GET_ROUTEINFO_BY_TOPIC: False}

    topic: str
    accept_standard_json_only: bool | None = None
