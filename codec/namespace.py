"""Namespaces: how a client with a namespace names topics and groups on the
wire, and which names are system resources that stay bare.

Mirrors ``org.apache.rocketmq.common.protocol.NamespaceUtil`` with the
names it consults, ``MixAll`` (retry / DLQ prefixes, system group prefix)
and ``TopicValidator`` (system topics), 4.9.x.  A namespaced resource is
``<namespace>%<name>``; retry and DLQ topics keep their prefix in front:
``%RETRY%<namespace>%<group>`` (golden ``java-broker-4.9.8-tx-order-ns.jsonl``).
Empty strings pass through unchanged where Java's ``StringUtils.isEmpty``
would let them.
"""

from __future__ import annotations

from typing import Final

from .errors import ConfigError

__all__ = [
    "NAMESPACE_SEPARATOR",
    "RETRY_GROUP_TOPIC_PREFIX",
    "DLQ_GROUP_TOPIC_PREFIX",
    "SYSTEM_TOPIC_PREFIX",
    "SYS_CONSUMER_GROUP_PREFIX",
    "SYSTEM_TOPICS",
    "AUTO_CREATE_TOPIC_KEY_TOPIC",
    "wrap",
    "wrap_retry",
    "unwrap",
    "without_namespace",
    "namespace_of",
    "is_already_with_namespace",
    "is_system_topic",
    "is_sys_consumer_group",
    "is_system_resource",
    "is_retry_topic",
    "is_dlq_topic",
    "retry_topic",
    "dlq_topic",
]

NAMESPACE_SEPARATOR: Final = "%"
RETRY_GROUP_TOPIC_PREFIX: Final = "%RETRY%"
DLQ_GROUP_TOPIC_PREFIX: Final = "%DLQ%"
#: ``TopicValidator.SYSTEM_TOPIC_PREFIX``: every topic starting so is a system topic.
SYSTEM_TOPIC_PREFIX: Final = "rmq_sys_"
#: ``MixAll.CID_RMQ_SYS_PREFIX``: system consumer groups.
SYS_CONSUMER_GROUP_PREFIX: Final = "CID_RMQ_SYS_"
#: ``TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC``.
AUTO_CREATE_TOPIC_KEY_TOPIC: Final = "TBW102"
#: ``TopicValidator``'s ``SYSTEM_TOPIC_SET``.
SYSTEM_TOPICS: Final = frozenset(
    {
        AUTO_CREATE_TOPIC_KEY_TOPIC,
        "SCHEDULE_TOPIC_XXXX",
        "BenchmarkTest",
        "RMQ_SYS_TRANS_HALF_TOPIC",
        "RMQ_SYS_TRACE_TOPIC",
        "RMQ_SYS_TRANS_OP_HALF_TOPIC",
        "TRANS_CHECK_MAX_TIME_TOPIC",
        "SELF_TEST_TOPIC",
        "OFFSET_MOVED_EVENT",
    }
)


def is_system_topic(topic: str) -> bool:
    """``TopicValidator.isSystemTopic``."""
    return topic in SYSTEM_TOPICS or topic.startswith(SYSTEM_TOPIC_PREFIX)


def is_sys_consumer_group(group: str) -> bool:
    """``MixAll.isSysConsumerGroup``."""
    return group.startswith(SYS_CONSUMER_GROUP_PREFIX)


def is_system_resource(resource: str) -> bool:
    """A system topic or system consumer group: never namespaced."""
    return bool(resource) and (is_system_topic(resource) or is_sys_consumer_group(resource))


def is_retry_topic(resource: str) -> bool:
    """Starts with ``%RETRY%``."""
    return resource.startswith(RETRY_GROUP_TOPIC_PREFIX)


def is_dlq_topic(resource: str) -> bool:
    """Starts with ``%DLQ%``."""
    return resource.startswith(DLQ_GROUP_TOPIC_PREFIX)


def retry_topic(group: str) -> str:
    """``MixAll.getRetryTopic``: the retry topic of a consumer group."""
    return RETRY_GROUP_TOPIC_PREFIX + group


def dlq_topic(group: str) -> str:
    """``MixAll.getDLQTopic``: the dead-letter topic of a consumer group."""
    return DLQ_GROUP_TOPIC_PREFIX + group


def _split_prefix(resource: str) -> tuple[str, str]:
    # Java tests %RETRY% first and strips only one prefix.
    if is_retry_topic(resource):
        return RETRY_GROUP_TOPIC_PREFIX, resource[len(RETRY_GROUP_TOPIC_PREFIX) :]
    if is_dlq_topic(resource):
        return DLQ_GROUP_TOPIC_PREFIX, resource[len(DLQ_GROUP_TOPIC_PREFIX) :]
    return "", resource


def is_already_with_namespace(resource: str, namespace: str | None) -> bool:
    """``resource`` (past any retry / DLQ prefix) already starts with ``namespace%``."""
    if not namespace or not resource or is_system_resource(resource):
        return False
    return _split_prefix(resource)[1].startswith(namespace + NAMESPACE_SEPARATOR)


def wrap(namespace: str | None, resource: str) -> str:
    """``NamespaceUtil.wrapNamespace``: ``ns%resource``, or
    ``%RETRY%ns%group`` / ``%DLQ%ns%group``.  Unchanged without a namespace,
    for system resources and for names already in the namespace."""
    if not namespace or not resource:
        return resource
    if is_system_resource(resource) or is_already_with_namespace(resource, namespace):
        return resource
    prefix, bare = _split_prefix(resource)
    return f"{prefix}{namespace}{NAMESPACE_SEPARATOR}{bare}"


def wrap_retry(namespace: str | None, group: str) -> str:
    """``NamespaceUtil.wrapNamespaceAndRetry``: the retry topic of ``group`` in ``namespace``."""
    if not group:
        raise ConfigError("a retry topic needs a consumer group")
    return RETRY_GROUP_TOPIC_PREFIX + wrap(namespace, group)


def without_namespace(resource: str) -> str:
    """``NamespaceUtil.withoutNamespace(resource)``: drop whatever namespace
    the name carries (everything up to the first ``%`` past a retry / DLQ
    prefix), keeping the prefix."""
    if not resource or is_system_resource(resource):
        return resource
    prefix, bare = _split_prefix(resource)
    index = bare.find(NAMESPACE_SEPARATOR)
    if index > 0:
        return prefix + bare[index + 1 :]
    return resource


def unwrap(resource: str, namespace: str | None) -> str:
    """``NamespaceUtil.withoutNamespace(resource, namespace)``: drop
    ``namespace`` if the name carries exactly it; other names unchanged."""
    if not resource or not namespace:
        return resource
    if _split_prefix(resource)[1].startswith(namespace + NAMESPACE_SEPARATOR):
        return without_namespace(resource)
    return resource


def namespace_of(resource: str) -> str:
    """``NamespaceUtil.getNamespaceFromResource``: the namespace, ``""`` without one."""
    if not resource or is_system_resource(resource):
        return ""
    bare = _split_prefix(resource)[1]
    index = bare.find(NAMESPACE_SEPARATOR)
    return bare[:index] if index > 0 else ""
