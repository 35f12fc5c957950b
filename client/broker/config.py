"""The embedded cluster's settings, checked once.

Mirrors the options of Java's ``NamesrvConfig``, ``BrokerConfig`` and
``MessageStoreConfig`` that the embedded name server and brokers honour,
with Java's defaults, in one frozen value: the servers read it and never
re-check it.  A bad option is a :class:`~codec.errors.ConfigError` here, at
construction, not a failure at start.  The two settings that may change
while the cluster runs (the ACL secrets, whether requests are recorded) live
on the request pipeline instead (:mod:`.dispatch`).
"""

from __future__ import annotations

from collections.abc import Sequence
import math
from dataclasses import dataclass
from typing import Final, Literal

from ..codec.command import MQVersion
from ..codec.errors import ConfigError
from ..codec.stream import DEFAULT_MAX_FRAME_SIZE
from .schedule import DEFAULT_DELAY_LEVELS, parse_delay_levels

__all__ = [
    "ClusterConfig",
    "RouteJson",
    "AutoCreateScope",
    "NAMESRV",
    "CLUSTER_NAME",
    "SERVER_VERSION",
    "MAX_MESSAGE_SIZE",
    "REGION_ID",
    "FAQ_SUFFIX",
    "IDLE_TIMEOUT",
]

#: The label of the name server in faults, records and ``stop_broker``.
NAMESRV: Final = "namesrv"
#: Every broker of the cluster belongs to this cluster (``BrokerConfig.brokerClusterName``).
CLUSTER_NAME: Final = "DefaultCluster"
#: The ``version`` the servers put in their responses and requests.
SERVER_VERSION: Final = MQVersion.V4_9_4
#: ``MessageStoreConfig.maxMessageSize``.
MAX_MESSAGE_SIZE: Final = 4 * 1024 * 1024
#: ``BrokerConfig.regionId``, echoed in SEND responses (``traceOn`` is ``true``).
REGION_ID: Final = "DefaultRegion"
#: ``FAQUrl.suggestTodo(...)``: what Java appends to several remarks.
FAQ_SUFFIX: Final = "\nSee http://rocketmq.apache.org/docs/faq/ for further details."
#: ``NettyServerConfig.serverChannelMaxIdleTimeSeconds``.
IDLE_TIMEOUT: Final = 120.0

RouteJson = Literal["auto", "legacy", "standard"]
AutoCreateScope = Literal["cluster", "broker"]

_ROUTE_JSON: Final = ("auto", "legacy", "standard")
_SCOPES: Final = ("cluster", "broker")


def _int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an int of at least {minimum}, not {value!r}")
    return value


def _optional_int(name: str, value: object, minimum: int) -> int | None:
    return None if value is None else _int(name, value, minimum)


def _seconds(name: str, value: object, *, optional: bool = False) -> float | None:
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
        raise ConfigError(f"{name} must be a number of seconds >= 0, not {value!r}")
    return float(value)


def _optional_seconds(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ConfigError(f"{name} must be a positive, finite number of seconds or None, not {value!r}")
    return float(value)


def _positive_seconds(name: str, value: object) -> float:
    seconds = _seconds(name, value) or 0.0
    if seconds <= 0:
        raise ConfigError(f"{name} must be a positive number of seconds, not {value!r}")
    return seconds


def _port(name: str, value: object) -> int:
    port = _int(name, value, 0)
    if port > 65535:
        raise ConfigError(f"{name} must be within 0..65535, not {port}")
    return port


def _names(what: str, value: str | Sequence[str]) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(item, str) for item in items):
        raise ConfigError(f"{what} must be strings: {items!r}")
    return tuple(items)


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """What one embedded cluster (a name server and its brokers) is.

    ``host`` is the address to bind (``"localhost"`` binds 127.0.0.1 and
    ``""`` every IPv4 address, so that each server gets one socket and one
    port); :attr:`advertised_host` is the one put in routes and message ids.
    Port 0 is an ephemeral port.  ``broker_port`` is the first broker's.
    Build it with :meth:`build`, which checks and normalises every option.
    """

    host: str = "127.0.0.1"
    namesrv_port: int = 0
    broker_port: int = 0
    broker_names: tuple[str, ...] = ("broker-a",)
    queues: int = 4
    auto_create_topics: bool = True
    auto_create_scope: AutoCreateScope = "cluster"
    topics: tuple[str, ...] = ()
    route_json: RouteJson = "auto"
    http_port: int | None = None
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    max_message_size: int = MAX_MESSAGE_SIZE
    #: Retention per queue (``None``: keep all): the oldest messages go and
    #: the queue's min offset moves, as Java's file reservation does.
    max_queue_messages: int | None = None
    max_queue_bytes: int | None = None
    #: A cap on the bytes of unfinished frames one server holds across its
    #: connections (``None``: only ``max_frame_size`` per connection).
    max_buffered_bytes: int | None = None
    #: Seconds a connection may go without sending a complete frame before
    #: the server closes it (``None``: never), on the name server's and each
    #: broker's port: ``NettyServerConfig.serverChannelMaxIdleTimeSeconds``.
    idle_timeout: float | None = IDLE_TIMEOUT
    #: ``SubscriptionGroupConfig.notifyConsumerIdsChangedEnable``.
    notify_consumer_ids_changed: bool = True
    #: ``BrokerConfig.longPollingEnable``: hold a SUSPEND pull for the
    #: client's ``suspendTimeoutMillis``; off, for ``short_polling_time``.
    long_polling: bool = True
    #: ``BrokerConfig.shortPollingTimeMills`` (1 s), in seconds.
    short_polling_time: float = 1.0
    #: No Java knob: hold a pull at most this long (seconds), whatever the
    #: client asked (None: as asked), so tests need not wait 15 s.
    max_suspend: float | None = None
    #: ``MessageStoreConfig.messageDelayLevel``, and a factor on every delay
    #: (no Java knob: 0.01 makes level 3 a tenth of a second).
    delay_levels: str = DEFAULT_DELAY_LEVELS
    delay_scale: float = 1.0
    #: ``rocketmq.broker.rebalance.lockMaxLiveTime`` (60 s), in seconds.
    lock_expiry: float = 60.0
    #: ``BrokerConfig.transactionCheckInterval`` (seconds between check-back rounds),
    #: ``transactionTimeOut`` (how old a half message must be before it is
    #: checked back), ``transactionCheckMax`` (check-backs before it is dropped)
    #: and ``rejectTransactionMessage``; see :mod:`.transaction`.
    transaction_check_interval: float = 60.0
    transaction_timeout: float = 6.0
    transaction_check_max: int = 15
    reject_transaction_message: bool = False

    @classmethod
    def build(
        cls,
        *,
        host: str = "127.0.0.1",
        namesrv_port: int = 0,
        broker_port: int = 0,
        broker_names: str | Sequence[str] = ("broker-a",),
        queues: int = 4,
        auto_create_topics: bool = True,
        auto_create_scope: str = "cluster",
        topics: str | Sequence[str] = (),
        standard_json: bool = False,
        route_json: str = "auto",
        http_port: int | None = None,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        max_message_size: int = MAX_MESSAGE_SIZE,
        max_queue_messages: int | None = None,
        max_queue_bytes: int | None = None,
        max_buffered_bytes: int | None = None,
        notify_consumer_ids_changed: bool = True,
        long_polling: bool = True,
        short_polling_time: float = 1.0,
        max_suspend: float | None = None,
        delay_levels: str = DEFAULT_DELAY_LEVELS,
        delay_scale: float = 1.0,
        lock_expiry: float = 60.0,
        idle_timeout: float | None = IDLE_TIMEOUT,
        transaction_check_interval: float = 60.0,
        transaction_timeout: float = 6.0,
        transaction_check_max: int = 15,
        reject_transaction_message: bool = False,
    ) -> ClusterConfig:
        """Check and normalise the options; raises :class:`~codec.errors.ConfigError`."""
        if not isinstance(host, str):
            raise ConfigError(f"host must be a string, not {host!r}")
        names = _names("broker_names", broker_names)
        if not names:
            raise ConfigError("broker_names must name at least one broker")
        if len(set(names)) != len(names) or NAMESRV in names or not all(n.strip() for n in names):
            raise ConfigError(f"broker names must be unique, not blank and not {NAMESRV!r}: {list(names)}")
        if route_json not in _ROUTE_JSON:
            raise ConfigError(f"route_json must be 'auto', 'legacy' or 'standard', not {route_json!r}")
        if standard_json and route_json == "legacy":
            raise ConfigError("standard_json=True contradicts route_json='legacy'")
        parse_delay_levels(delay_levels)  # a ConfigError when bad
        if auto_create_scope not in _SCOPES:
            raise ConfigError(f"auto_create_scope must be 'cluster' or 'broker', not {auto_create_scope!r}")
        return cls(
            host={"localhost": "127.0.0.1", "": "0.0.0.0"}.get(host, host),
            namesrv_port=_port("namesrv_port", namesrv_port),
            broker_port=_port("broker_port", broker_port),
            broker_names=names,
            queues=_int("queues", queues, 1),
            auto_create_topics=bool(auto_create_topics),
            auto_create_scope=auto_create_scope,  # type: ignore[arg-type]
            topics=_names("topics", topics),
            route_json="standard" if standard_json else route_json,  # type: ignore[arg-type]
            http_port=None if http_port is None else _port("http_port", http_port),
            max_frame_size=_int("max_frame_size", max_frame_size, 8),
            max_message_size=_int("max_message_size", max_message_size, 1),
            max_queue_messages=_optional_int("max_queue_messages", max_queue_messages, 1),
            max_queue_bytes=_optional_int("max_queue_bytes", max_queue_bytes, 1),
            max_buffered_bytes=_optional_int("max_buffered_bytes", max_buffered_bytes, 0),
            notify_consumer_ids_changed=bool(notify_consumer_ids_changed),
            long_polling=bool(long_polling),
            short_polling_time=_seconds("short_polling_time", short_polling_time) or 0.0,
            max_suspend=_seconds("max_suspend", max_suspend, optional=True),
            delay_levels=delay_levels,
            delay_scale=_seconds("delay_scale", delay_scale) or 0.0,
            lock_expiry=_seconds("lock_expiry", lock_expiry) or 0.0,
            idle_timeout=_optional_seconds("idle_timeout", idle_timeout),
            transaction_check_interval=_positive_seconds("transaction_check_interval", transaction_check_interval),
            transaction_timeout=_seconds("transaction_timeout", transaction_timeout) or 0.0,
            transaction_check_max=_int("transaction_check_max", transaction_check_max, 1),
            reject_transaction_message=bool(reject_transaction_message),
        )

    @property
    def advertised_host(self) -> str:
        """The host put in routes, addresses and message ids."""
        return "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
