"""Tag subscriptions: building a ``SubscriptionData`` from an expression, the
tag hash codes the broker filters by, and the client-side re-check.

Mirrors ``org.apache.rocketmq.common.filter.FilterAPI`` (4.9.x) and the tag
check of ``PullAPIWrapper.processPullResult``.  The broker filters a pull by
the 32-bit hash code of each message's tag, which its consume queue stores
in place of the tag; equal hashes of different tags get through, so the
client filters again by the tag string (:func:`tags_match`).  The hash must
be Java's ``String.hashCode`` exactly, over UTF-16 code units, or a
broker-side filter drops messages it should deliver.
"""

from __future__ import annotations

import time

from .body.heartbeat import SubscriptionData
from .errors import ConfigError

__all__ = ["SUB_ALL", "EXPRESSION_TAG", "tag_hash_code", "build_subscription", "tags_match", "java_trim"]

#: ``SubscriptionData.SUB_ALL``: the expression matching every tag.
SUB_ALL = "*"
#: ``ExpressionType.TAG``.
EXPRESSION_TAG = "TAG"

_INT32_WRAP = 1 << 32


def tag_hash_code(tag: str) -> int:
    """Java's ``tag.hashCode()``: ``h = 31*h + unit`` over the UTF-16 code
    units, wrapped to a signed 32-bit int.  Characters beyond the BMP count
    as their two surrogates; lone surrogates count as themselves."""
    if not isinstance(tag, str):
        raise TypeError(f"tag must be a str, not {type(tag).__name__}")
    data = tag.encode("utf-16-be", "surrogatepass")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h - _INT32_WRAP if h & 0x80000000 else h


def java_trim(value: str) -> str:
    """Java's ``String.trim``: strips characters up to U+0020 from both ends
    (control characters included, other Unicode spaces not)."""
    start, end = 0, len(value)
    while start < end and value[start] <= " ":
        start += 1
    while end > start and value[end - 1] <= " ":
        end -= 1
    return value[start:end]


def build_subscription(
    topic: str,
    expression: str | None,
    *,
    expression_type: str | None = EXPRESSION_TAG,
    sub_version: int | None = None,
) -> SubscriptionData:
    """The ``SubscriptionData`` a Java consumer builds for ``subscribe(topic,
    expression)`` (``FilterAPI.build``).

    For TAG expressions, ``None``, ``""`` and ``"*"`` subscribe to all tags
    (``sub_string`` ``"*"``, no tags); otherwise the expression is split on
    ``||``, each part trimmed as Java trims, empty parts dropped, and each
    tag goes into ``tags_set`` with its hash code in ``code_set`` (duplicates
    once, first-seen order).  Other expression types (``SQL92``) keep the
    expression whole and need one.

    ``sub_version`` defaults to the wall clock in milliseconds, as Java's
    ``SubscriptionData`` constructor stamps it: the broker replaces a group's
    subscription only by one with a greater version, so a re-subscription
    must carry a newer stamp.  Pass it explicitly to stay clock-free.
    """
    if not isinstance(topic, str):
        raise TypeError(f"topic must be a str, not {type(topic).__name__}")
    version = time.time_ns() // 1_000_000 if sub_version is None else sub_version
    if expression_type is not None and expression_type != EXPRESSION_TAG:
        if not expression:
            raise ConfigError(f"a {expression_type} subscription needs an expression")
        return SubscriptionData(topic=topic, sub_string=expression, sub_version=version, expression_type=expression_type)
    if expression is None or expression == "" or expression == SUB_ALL:
        return SubscriptionData(topic=topic, sub_string=SUB_ALL, sub_version=version)
    tags: list[str] = []
    for part in expression.split("||"):
        tag = java_trim(part)
        if tag and tag not in tags:
            tags.append(tag)
    return SubscriptionData(
        topic=topic,
        sub_string=expression,
        tags_set=tuple(tags),
        code_set=tuple(dict.fromkeys(tag_hash_code(tag) for tag in tags)),
        sub_version=version,
    )


def tags_match(subscription: SubscriptionData, tags: str | None) -> bool:
    """Whether a pulled message with ``tags`` passes ``subscription`` on the
    client: always for ``*`` (no tags set) and class-filter subscriptions,
    otherwise only if the message's tag string is one of ``tags_set``."""
    if subscription.class_filter_mode or not subscription.tags_set:
        return True
    return tags is not None and tags in subscription.tags_set
