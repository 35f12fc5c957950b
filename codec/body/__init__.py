"""Typed request and response bodies (JSON, as Java's ``RemotingSerializable``
writes them with fastjson).

* :mod:`.heartbeat`: the ``HEART_BEAT`` (34) body, ``HeartbeatData``;
* :mod:`.lock`: the ``LOCK_BATCH_MQ`` (41) / ``UNLOCK_BATCH_MQ`` (42) bodies;
* :mod:`.consumer_list`: the ``GET_CONSUMER_LIST_BY_GROUP`` (38) response body;
* :mod:`.running_info`, :mod:`.consume_directly`: the answers a client gives to
  ``GET_CONSUMER_RUNNING_INFO`` (307) and ``CONSUME_MESSAGE_DIRECTLY`` (309);
* :mod:`.route`: the ``GET_ROUTEINFO_BY_TOPIC`` (105) response body,
  ``TopicRouteData``, and the queues a producer (write) or consumer (read)
  derives from it.

Bodies are frozen dataclasses with ``to_json`` / ``from_json``; reading
raises only :class:`~codec.errors.MalformedBodyError`, writing only
:class:`~codec.errors.EncodeError`.  The message-level bodies (properties,
batches) live in :mod:`codec.message`.
"""

from .consume_directly import CMResult, ConsumeMessageDirectlyResult
from .consumer_list import GetConsumerListByGroupResponseBody
from .heartbeat import ConsumerData, HeartbeatData, ProducerData, SubscriptionData
from .lock import LockBatchRequestBody, LockBatchResponseBody, MessageQueueData, UnlockBatchRequestBody
from .running_info import ConsumerRunningInfo, ConsumeStatus, ProcessQueueInfo
from .route import (
    MASTER_ID,
    MAX_QUEUE_NUMS,
    BrokerData,
    PermName,
    QueueData,
    TopicRouteData,
    quote_integer_keys,
    topic_route_to_publish_queues,
    topic_route_to_queues,
)

__all__ = [
    "HeartbeatData",
    "ProducerData",
    "ConsumerData",
    "SubscriptionData",
    "TopicRouteData",
    "QueueData",
    "BrokerData",
    "PermName",
    "MASTER_ID",
    "MAX_QUEUE_NUMS",
    "quote_integer_keys",
    "MessageQueueData",
    "LockBatchRequestBody",
    "LockBatchResponseBody",
    "UnlockBatchRequestBody",
    "GetConsumerListByGroupResponseBody",
    "ConsumerRunningInfo",
    "ProcessQueueInfo",
    "ConsumeStatus",
    "ConsumeMessageDirectlyResult",
    "CMResult",
    "topic_route_to_publish_queues",
    "topic_route_to_queues",
]
