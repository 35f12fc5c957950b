"""Namespaces on the client side: which namespace a producer or consumer
is in, and the renaming at each boundary between user code and the wire.

Mirrors the namespace half of Java's ``ClientConfig`` (``getNamespace``,
``withNamespace``, ``withoutNamespace``, ``queueWithNamespace``) and the
calls ``DefaultMQProducer``, ``DefaultMQPushConsumer`` and
``DefaultLitePullConsumer`` make of it: groups and topics go to the broker
as ``namespace%name`` (:mod:`~codec.namespace` says how, and which system
names stay bare), and everything handed back to user code (``SendResult``
and its queue, the queues a producer or consumer lists, the messages a
listener or ``poll`` gets) carries the bare name again.

The producers and consumers keep wire names inside (their route tables,
subscriptions, process queues and offsets are keyed as the broker keys
them, so a rebalance or a heartbeat needs no renaming); they call a
:class:`Namespace` only where a name crosses to or from the user.

Where this differs from Java 4.9, knowingly:

- Java reads no environment variable for the namespace; here ``NAMESPACE``
  stands in when the ``namespace=`` option is not given (the brief of
  issue 12).  As in Java, a name server address naming an instance
  endpoint (``MQ_INST_<x>_<y>.<host>:<port>``) gives its instance id as the
  namespace when none is set.
- Java's client instance is shared by client id (``ip@instanceName``,
  namespace not part of it) and adds the *instance's* namespace to sends
  and strips it from send results, so two producers of one process in
  different namespaces mix them up.  Here each producer and consumer
  uses its own namespace, whatever instance it shares.
- Java sets ``INSTANCE_ID`` to the namespace even when it is ``""``;
  here an empty namespace is no namespace at all.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from .codec import namespace as nsutil
from .codec.errors import ConfigError
from .codec.message import validate_topic
from .codec.store import MessageExt
from .types import Message, MessageQueue, SendResult

__all__ = [
    "ENV_NAMESPACE",
    "PROPERTY_INSTANCE_ID",
    "Namespace",
    "resolve_namespace",
    "instance_id_of_endpoint",
]

#: The environment variable read when no ``namespace=`` option is given.
ENV_NAMESPACE = "NAMESPACE"
#: ``MessageConst.PROPERTY_INSTANCE_ID``: a namespaced producer's sends carry it.
PROPERTY_INSTANCE_ID = "INSTANCE_ID"

# NameServerAddressUtils.INST_ENDPOINT_PATTERN
_INSTANCE_ENDPOINT = re.compile(r"(\w+://|)MQ_INST_\w+_\w+\..*")
# what a namespace may hold so that every wrapped name stays a valid
# topic / group and unwraps again: no '%', no '|'
_VALID_NAMESPACE = re.compile(r"[A-Za-z0-9_-]+")

T = TypeVar("T")


def instance_id_of_endpoint(namesrv_addr: str | None) -> str | None:
    """``parseInstanceIdFromEndpoint`` of an instance endpoint such as
    ``http://MQ_INST_1_abc.example.com:80``: ``MQ_INST_1_abc``; None for
    an ordinary address list."""
    if not namesrv_addr or _INSTANCE_ENDPOINT.fullmatch(namesrv_addr) is None:
        return None
    return namesrv_addr[namesrv_addr.rfind("/") + 1 : namesrv_addr.index(".")]


def resolve_namespace(
    option: str | None, namesrv_addr: str | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """The namespace a producer or consumer is in; ``""`` for none.

    ``option`` wins when given, even as ``""`` (no namespace, whatever the
    environment says, as Java's ``setNamespace``); without it the
    ``NAMESPACE`` environment variable, then the instance id of an instance
    endpoint in ``namesrv_addr``.  A namespace holds letters, digits, ``_``
    and ``-`` only, else :class:`~codec.errors.ConfigError`.
    """
    env = os.environ if environ is None else environ
    if option is not None:
        if not isinstance(option, str):
            raise ConfigError(f"namespace must be a str, not {type(option).__name__} ({option!r})")
        name = option
    else:
        name = env.get(ENV_NAMESPACE) or instance_id_of_endpoint(namesrv_addr) or ""
    name = name.strip()
    if name and _VALID_NAMESPACE.fullmatch(name) is None:
        raise ConfigError(f"namespace {name!r} may hold only letters, digits, '_' and '-'")
    return name


@dataclasses.dataclass(frozen=True, slots=True)
class Namespace:
    """One producer's or consumer's namespace and its renamings; with
    ``name=""`` every method returns what it was given."""

    name: str = ""

    def __bool__(self) -> bool:
        return bool(self.name)

    # -- names
    def wrap(self, resource: str) -> str:
        """``withNamespace``: a group or topic as it goes on the wire."""
        return nsutil.wrap(self.name, resource)

    def unwrap(self, resource: str) -> str:
        """``withoutNamespace``: a wire name as user code sees it."""
        return nsutil.unwrap(resource, self.name)

    def wrap_topic(self, topic: str) -> str:
        """The wire name of a topic to send to or subscribe to, checked
        again once wrapped (the namespace counts towards the length)."""
        wire = self.wrap(topic)
        if wire != topic:
            validate_topic(wire)
        return wire

    def retry_topic(self, group: str) -> str:
        """``%RETRY%<namespace>%<group>`` of a bare ``group``."""
        return nsutil.wrap_retry(self.name, group)

    # -- queues
    def wrap_queue(self, mq: MessageQueue) -> MessageQueue:
        """``queueWithNamespace``."""
        topic = self.wrap(mq.topic)
        return mq if topic == mq.topic else MessageQueue(topic, mq.broker_name, mq.queue_id)

    def unwrap_queue(self, mq: MessageQueue) -> MessageQueue:
        """A wire queue as user code sees it."""
        topic = self.unwrap(mq.topic)
        return mq if topic == mq.topic else MessageQueue(topic, mq.broker_name, mq.queue_id)

    def wrap_queues(self, queues: Iterable[MessageQueue]) -> list[MessageQueue]:
        return [self.wrap_queue(mq) for mq in queues]

    def unwrap_queues(self, queues: Iterable[MessageQueue]) -> list[MessageQueue]:
        return [self.unwrap_queue(mq) for mq in queues]

    # -- what the broker sends back
    def unwrap_message(self, msg: MessageExt) -> MessageExt:
        """A pulled message as the listener sees it: its topic unwrapped
        (the retry topic already restored from ``RETRY_TOPIC`` by the
        consume service, as ``resetRetryAndNamespace`` does first)."""
        topic = self.unwrap(msg.topic)
        return msg if topic == msg.topic else dataclasses.replace(msg, topic=topic)

    def unwrap_messages(self, msgs: Iterable[MessageExt]) -> list[MessageExt]:
        return [self.unwrap_message(m) for m in msgs]

    def unwrap_result(self, result: SendResult) -> SendResult:
        """``processSendResponse``: the result's queue with the bare topic."""
        mq = self.unwrap_queue(result.message_queue)
        return result if mq is result.message_queue else dataclasses.replace(result, message_queue=mq)

    # -- user callbacks, shown bare names
    def selector(
        self, selector: Callable[[list[MessageQueue], Message, Any], MessageQueue]
    ) -> Callable[[list[MessageQueue], Message, Any], MessageQueue]:
        """A ``MessageQueueSelector`` that is shown the bare queues and whose
        pick goes back to the wire name."""
        if not self:
            return selector

        @functools.wraps(selector)
        def select(queues: list[MessageQueue], msg: Message, arg: Any) -> MessageQueue:
            picked = selector(self.unwrap_queues(queues), msg, arg)
            return self.wrap_queue(picked) if isinstance(picked, MessageQueue) else picked

        return select

    def listener(self, listener: Callable[[list[MessageExt]], Awaitable[T]]) -> Callable[[list[MessageExt]], Awaitable[T]]:
        """A push listener that gets the messages with bare topics; what the
        consume service keeps (and sends back) keeps the wire names."""
        if not self:
            return listener

        async def with_bare_topics(msgs: list[MessageExt]) -> T:
            return await listener(self.unwrap_messages(msgs))

        with_bare_topics.__qualname__ = getattr(listener, "__qualname__", "listener")
        return with_bare_topics

    def instance_id_property(self) -> dict[str, str]:
        """The ``INSTANCE_ID`` property a namespaced producer adds to each send."""
        return {PROPERTY_INSTANCE_ID: self.name} if self.name else {}
