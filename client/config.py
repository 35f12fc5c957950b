"""The options a client instance runs with, and the service states.

Mirrors the instance half of Java's ``ClientConfig`` and ``ServiceState``.
The first member (producer or consumer) of a client id makes the config;
the others share that instance, and so its config.
"""

from __future__ import annotations

import enum
import ssl as _ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .codec.enums import LanguageCode, SerializeType
from .transport import FrameObserver

if TYPE_CHECKING:
    from .codec.acl import Credentials

__all__ = ["ServiceState", "ClientConfig"]


class ServiceState(enum.Enum):
    """Java ``ServiceState``."""

    CREATE_JUST = "CREATE_JUST"
    RUNNING = "RUNNING"
    SHUTDOWN_ALREADY = "SHUTDOWN_ALREADY"
    START_FAILED = "START_FAILED"


@dataclass(frozen=True)
class ClientConfig:
    """What the client instance needs from the first member's options."""

    client_id: str
    namesrv_addrs: tuple[str, ...]
    namesrv_domain: str | None
    namesrv_domain_subgroup: str
    request_timeout: float = 3.0
    heartbeat_interval: float = 30.0
    poll_name_server_interval: float = 30.0
    namesrv_lookup_interval: float = 120.0
    connect_timeout: float = 3.0
    rebalance_interval: float = 20.0
    persist_consumer_offset_interval: float = 5.0
    language: LanguageCode = LanguageCode.PYTHON
    serialize_type: SerializeType = SerializeType.JSON
    ssl: _ssl.SSLContext | None = None
    credentials: Credentials | None = None
    observer: FrameObserver | None = field(default=None, compare=False)
