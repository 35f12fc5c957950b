"""What every consumer of a client instance has alike: its identity, the
pieces that exist only once it started, and the route callbacks the
instance makes (Java's ``MQConsumerInner`` defaults, shared by
``DefaultMQPushConsumerImpl`` and ``DefaultLitePullConsumerImpl``)."""

from __future__ import annotations

from ..codec.body import SubscriptionData
from ..codec.errors import ServiceStateError
from ..instance import ClientInstance
from ..namespacing import Namespace
from ..types import MessageQueue
from .client_options import ClientOptions
from .offset_store import OffsetStore
from .rebalance import RebalanceImpl

__all__ = ["ConsumerMember"]


class ConsumerMember:
    """A mixin: the consumer sets these attributes in its ``__init__`` and
    ``start``; the properties raise :class:`~codec.errors.ServiceStateError`
    before it started rather than hand out ``None``."""

    _client: ClientOptions
    _ns: Namespace
    _subscriptions: dict[str, SubscriptionData]
    _instance: ClientInstance | None
    _offset_store: OffsetStore | None
    _rebalance: RebalanceImpl | None

    @property
    def client_id(self) -> str:
        """``ip@instanceName[@unitName]``."""
        return self._client.client_id

    @property
    def namespace(self) -> str:
        """The namespace (``""``: none): ``namespace=``, else ``NAMESPACE``."""
        return self._ns.name

    @property
    def instance(self) -> ClientInstance:
        """The client instance this consumer is registered with (once started)."""
        if self._instance is None:
            raise ServiceStateError("the consumer has not been started")
        return self._instance

    @property
    def offset_store(self) -> OffsetStore:
        """Where this consumer's offsets are kept (once started)."""
        if self._offset_store is None:
            raise ServiceStateError("the consumer has not been started")
        return self._offset_store

    def update_topic_subscribe_info(self, topic: str, queues: set[MessageQueue]) -> None:
        """A route update: the readable queues of a subscribed ``topic``."""
        if self._rebalance is not None and topic in self._subscriptions:
            self._rebalance.set_topic_queues(topic, queues)

    def is_subscribe_topic_need_update(self, topic: str) -> bool:
        """A subscribed topic whose queues are not known yet."""
        return (
            topic in self._subscriptions
            and self._rebalance is not None
            and topic not in self._rebalance.topic_subscribe_info_table
        )
