"""The client-instance options every consumer takes (Java ``ClientConfig``).

A consumer's constructor hands these keywords here; :meth:`ClientOptions.config`
turns them into the :class:`~client.instance.ClientConfig` of the instance
the consumer joins, with the same name-server resolution as the producer:
``namesrv_addr``, else ``NAMESRV_ADDR``, else the HTTP lookup domain.
"""

from __future__ import annotations

import os
import ssl as _ssl
import time
from dataclasses import dataclass, field
from typing import Any

from ..codec.acl import Credentials
from ..codec.enums import LanguageCode, SerializeType
from ..codec.errors import ConfigError
from ..codec.message import local_ipv4
from ..instance import ClientConfig
from ..optioncheck import enum_option
from ..namespacing import Namespace, resolve_namespace
from ..transport import FrameObserver, parse_addr

__all__ = ["ClientOptions", "parse_namesrv"]


def parse_namesrv(value: str) -> tuple[str, ...]:
    """``host:port;host:port`` to a tuple, each address checked."""
    addrs = tuple(a.strip() for a in value.split(";") if a.strip())
    for addr in addrs:
        try:
            parse_addr(addr)
        except ValueError as exc:
            raise ConfigError(f"invalid name server address list {value!r}: {exc}") from None
    return addrs


def _positive(name: str, value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{name} must be a positive number of seconds, not {value!r}")
    return float(value)


@dataclass
class ClientOptions:
    """Name server, identity, timeouts and transport of a consumer's client.

    Units: ``request_timeout`` and every ``*_interval`` are seconds (float);
    Java's ``ClientConfig`` counts them in milliseconds."""

    namesrv_addr: str | None = None
    instance_name: str | None = None
    unit_name: str | None = None
    client_ip: str | None = None
    namesrv_domain: str | None = None
    namesrv_domain_subgroup: str | None = None
    request_timeout: float = 3.0
    heartbeat_interval: float = 30.0
    poll_name_server_interval: float = 30.0
    persist_consumer_offset_interval: float = 5.0
    rebalance_interval: float = 20.0
    serialize_type: SerializeType = SerializeType.JSON
    language: LanguageCode = LanguageCode.PYTHON
    credentials: Credentials | None = None
    ssl: _ssl.SSLContext | bool | None = None
    trace: FrameObserver | None = field(default=None, compare=False)
    #: None: the ``NAMESPACE`` environment variable; ``""``: no namespace
    namespace: str | None = None

    def __post_init__(self) -> None:
        for name in ("request_timeout", "heartbeat_interval", "poll_name_server_interval",
                     "persist_consumer_offset_interval", "rebalance_interval"):
            setattr(self, name, _positive(name, getattr(self, name)))
        self.instance_name = self.instance_name or os.environ.get("ROCKETMQ_CLIENT_NAME") or "DEFAULT"
        self.client_ip = self.client_ip or local_ipv4()
        env = os.environ.get("NAMESRV_ADDR")
        self.namesrv = parse_namesrv(self.namesrv_addr) if self.namesrv_addr else (parse_namesrv(env) if env else ())
        self.domain = self.namesrv_domain or os.environ.get("ROCKETMQ_NAMESRV_DOMAIN") or "jmenv.tbsite.net"
        self.subgroup = (
            self.namesrv_domain_subgroup or os.environ.get("ROCKETMQ_NAMESRV_DOMAIN_SUBGROUP") or "nsaddr"
        )
        self.serialize_type = enum_option(SerializeType, "serialize_type", self.serialize_type)
        self.language = enum_option(LanguageCode, "language", self.language)
        self.namespace = resolve_namespace(self.namespace, self.namesrv_addr)
        self.ns = Namespace(self.namespace)
        if self.ssl is True:
            self.ssl = _ssl.create_default_context()

    def change_instance_name_to_pid(self) -> None:
        """``changeInstanceNameToPID``: a DEFAULT instance name becomes unique
        to this process (and to this consumer, so two consumers of one
        process can be members of one group)."""
        if self.instance_name == "DEFAULT":
            self.instance_name = f"{os.getpid()}#{time.monotonic_ns()}"

    @property
    def client_id(self) -> str:
        """``ip@instanceName[@unitName]`` (``ClientConfig.buildMQClientId``)."""
        cid = f"{self.client_ip}@{self.instance_name}"
        if self.unit_name:
            cid += f"@{self.unit_name}"
        return cid

    def config(self) -> ClientConfig:
        """The instance configuration for these options."""
        ssl = self.ssl if isinstance(self.ssl, _ssl.SSLContext) else None
        return ClientConfig(
            client_id=self.client_id,
            namesrv_addrs=self.namesrv,
            namesrv_domain=None if self.namesrv else self.domain,
            namesrv_domain_subgroup=self.subgroup,
            request_timeout=self.request_timeout,
            heartbeat_interval=self.heartbeat_interval,
            poll_name_server_interval=self.poll_name_server_interval,
            persist_consumer_offset_interval=self.persist_consumer_offset_interval,
            rebalance_interval=self.rebalance_interval,
            language=self.language,
            serialize_type=self.serialize_type,
            ssl=ssl,
            credentials=self.credentials,
            observer=self.trace,
        )
