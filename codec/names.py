"""Topic and group names: the rules and the reserved ones.

Mirrors ``Validators`` / ``TopicValidator`` (length, characters, the topics a
client may not send to, the system topics) and ``MixAll``'s reserved groups
and prefixes.
Part of :mod:`codec.message`, which re-exports every public name here.
"""

from __future__ import annotations

import re
from typing import Final

from .errors import ConfigError, InvalidMessageError

__all__ = [
    "TOPIC_MAX_LENGTH",
    "GROUP_MAX_LENGTH",
    "DEFAULT_PRODUCER_GROUP",
    "CLIENT_INNER_PRODUCER_GROUP",
    "AUTO_CREATE_TOPIC_KEY_TOPIC",
    "RETRY_GROUP_TOPIC_PREFIX",
    "DLQ_GROUP_TOPIC_PREFIX",
    "SYSTEM_TOPIC_PREFIX",
    "NOT_ALLOWED_SEND_TOPICS",
    "SYSTEM_TOPICS",
    "VALID_NAME_CHARS",
    "VALID_NAME_PATTERN",
    "validate_topic",
    "validate_group",
]


#: ``Validators.TOPIC_MAX_LENGTH``.
TOPIC_MAX_LENGTH: Final = 127
#: ``Validators.CHARACTER_MAX_LENGTH`` (every release tag through 5.3.3).
GROUP_MAX_LENGTH: Final = 255
#: ``MixAll.DEFAULT_PRODUCER_GROUP``: a producer may not use it.
DEFAULT_PRODUCER_GROUP: Final = "DEFAULT_PRODUCER"
#: ``MixAll.CLIENT_INNER_PRODUCER_GROUP``: the client instance's own producer.
CLIENT_INNER_PRODUCER_GROUP: Final = "CLIENT_INNER_PRODUCER"
#: ``TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC``.
AUTO_CREATE_TOPIC_KEY_TOPIC: Final = "TBW102"
RETRY_GROUP_TOPIC_PREFIX: Final = "%RETRY%"
DLQ_GROUP_TOPIC_PREFIX: Final = "%DLQ%"
SYSTEM_TOPIC_PREFIX: Final = "rmq_sys_"

#: ``TopicValidator.NOT_ALLOWED_SEND_TOPIC_SET``.
NOT_ALLOWED_SEND_TOPICS: Final[frozenset[str]] = frozenset(
    {
        "SCHEDULE_TOPIC_XXXX",
        "RMQ_SYS_TRANS_HALF_TOPIC",
        "RMQ_SYS_TRANS_OP_HALF_TOPIC",
        "TRANS_CHECK_MAX_TIME_TOPIC",
        "SELF_TEST_TOPIC",
        "OFFSET_MOVED_EVENT",
    }
)
#: ``TopicValidator.SYSTEM_TOPIC_SET`` (plus every topic starting with :data:`SYSTEM_TOPIC_PREFIX`).
SYSTEM_TOPICS: Final[frozenset[str]] = NOT_ALLOWED_SEND_TOPICS | {
    AUTO_CREATE_TOPIC_KEY_TOPIC,
    "BenchmarkTest",
    "RMQ_SYS_TRACE_TOPIC",
    "CHECKPOINT_TOPIC",
}

#: ``TopicValidator.VALID_PATTERN_STR``: the characters a topic or group name
#: may hold, as Java's messages quote it; :data:`VALID_NAME_PATTERN` is the
#: same rule compiled for ``fullmatch``.  ASCII only: ``str.isalnum()`` and
#: ``\w`` would admit every script's letters and digits.
VALID_NAME_CHARS: Final = "^[%|a-zA-Z0-9_-]+$"
VALID_NAME_PATTERN: Final = re.compile(r"[%|a-zA-Z0-9_-]+")
_VALID_NAME = VALID_NAME_PATTERN
_VALID_CHARS = VALID_NAME_CHARS


def validate_topic(topic: str) -> None:
    """``Validators.checkTopic`` plus ``isNotAllowedSendTopic``: a topic this
    client may send to.  Raises :class:`~codec.errors.InvalidMessageError`."""
    if type(topic) is str and topic in _VALID_TOPICS:
        return  # a producer sends to few topics, each many times
    if not isinstance(topic, str) or not topic.strip():
        raise InvalidMessageError("The specified topic is blank")
    if _VALID_NAME.fullmatch(topic) is None:
        raise InvalidMessageError(f"The specified topic[{topic}] contains illegal characters, allowing only {_VALID_CHARS}")
    if len(topic) > TOPIC_MAX_LENGTH:
        raise InvalidMessageError(f"The specified topic is longer than topic max length {TOPIC_MAX_LENGTH}.")
    if topic in NOT_ALLOWED_SEND_TOPICS:
        raise InvalidMessageError(f"Sending message to topic[{topic}] is forbidden.")
    if type(topic) is str and len(_VALID_TOPICS) < 4096:
        _VALID_TOPICS.add(topic)


#: topics :func:`validate_topic` accepted already (bounded: past the cap, new
#: topics are checked every time)
_VALID_TOPICS: set[str] = set()


def validate_group(group: str) -> None:
    """``Validators.checkGroup``: a well-formed producer or consumer group name.
    Raises :class:`~codec.errors.ConfigError`.  (Whether a producer may use
    :data:`DEFAULT_PRODUCER_GROUP` is the producer's own check.)"""
    if not isinstance(group, str) or not group.strip():
        raise ConfigError("the specified group is blank")
    if len(group) > GROUP_MAX_LENGTH:
        raise ConfigError(f"the specified group is longer than group max length {GROUP_MAX_LENGTH}.")
    if _VALID_NAME.fullmatch(group) is None:
        raise ConfigError(f"the specified group[{group}] contains illegal characters, allowing only {_VALID_CHARS}")
