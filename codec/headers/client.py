"""The UNREGISTER_CLIENT (35) request header, sent to every broker address
when a producer shuts down.

Mirrors ``org.apache.rocketmq.remoting.protocol.header.UnregisterClientRequestHeader``
(``protocol.md`` 4.6).  Note the capital ``ID`` of the ``clientID`` key.
A producer leaves ``consumer_group`` out; the C++ client sends it as ``""``
(golden ``cpp.jsonl`` seq 25), which decodes to ``""``, not to ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from ..enums import RequestCode
from .base import CustomHeader, String, WireTable

__all__ = ["UnregisterClientRequestHeader"]


@dataclass(frozen=True, slots=True, kw_only=True)
class UnregisterClientRequestHeader(CustomHeader):
    """Which client id leaves which producer and/or consumer group."""

    WIRE: ClassVar[WireTable] = WireTable(
        String("clientID", "client_id", required=True),
        String("producerGroup", "producer_group"),
        String("consumerGroup", "consumer_group"),
    )
    REQUEST_CODE: ClassVar[int] = RequestCode.UNREGISTER_CLIENT
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {RequestCode.UNREGISTER_CLIENT: False}

    client_id: str
    producer_group: str | None = None
    consumer_group: str | None = None
