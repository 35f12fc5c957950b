"""What a client instance needs from the producers and consumers it hosts.

Mirrors Java's ``MQProducerInner`` and ``MQConsumerInner``: the instance
knows its members only through these protocols, so producers, push and
pull consumers and transaction producers plug into one instance without it
importing any of them.  ``Processor`` is the shape of an answer to a
request a broker starts (``NettyRequestProcessor``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, runtime_checkable

from .codec.body import SubscriptionData, TopicRouteData
from .codec.command import RemotingCommand
from .types import ConsumeFromWhere, ConsumeType, MessageModel, MessageQueue

__all__ = ["ProducerInner", "ConsumerInner", "Processor"]

#: ``async processor(request, addr)``: answers a request a broker (at
#: ``addr``) sent this client.  Returning None sends no answer (a oneway
#: request never gets one); raising answers SYSTEM_ERROR with the reason.
Processor = Callable[[RemotingCommand, str], Awaitable["RemotingCommand | None"]]


@runtime_checkable
class ProducerInner(Protocol):
    """Java ``MQProducerInner``: a producer group registered on an instance."""

    def publish_topics(self) -> Iterable[str]:
        """The topics whose routes the instance keeps fresh for this producer."""
        ...

    def is_publish_topic_need_update(self, topic: str) -> bool:
        """True when the producer has no usable queues for ``topic`` yet, so
        a route fetch must reach it even if the route did not change."""
        ...

    def update_topic_publish_info(self, topic: str, route: TopicRouteData) -> None:
        """Take ``topic``'s new route (called after every route change, for
        every topic; a producer ignores topics it does not publish to)."""
        ...


@runtime_checkable
class ConsumerInner(Protocol):
    """Java ``MQConsumerInner``: a consumer group registered on an instance.

    The attributes are what its heartbeat's ``ConsumerData`` says;
    ``group_name`` is the group exactly as it goes on the wire.
    """

    group_name: str
    message_model: MessageModel
    consume_type: ConsumeType
    consume_from_where: ConsumeFromWhere
    unit_mode: bool

    def subscriptions(self) -> list[SubscriptionData]:
        """The topics (and the retry topic) this group subscribes to."""
        ...

    async def do_rebalance(self) -> None:
        """Redistribute the queues among the group's consumers (every
        ``rebalance_interval`` and when the broker says the group changed)."""
        ...

    async def persist_consumer_offset(self) -> None:
        """Store the consumed offsets (every ``persist_consumer_offset_interval``
        and at shutdown)."""
        ...

    def update_topic_subscribe_info(self, topic: str, queues: set[MessageQueue]) -> None:
        """Take the readable queues of ``topic`` after a route change (called
        for every topic; a consumer ignores topics it does not subscribe to)."""
        ...

    def is_subscribe_topic_need_update(self, topic: str) -> bool:
        """True when the consumer subscribes to ``topic`` but has no queues
        for it yet."""
        ...
