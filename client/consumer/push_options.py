"""The push consumer's own options: Java's names and defaults, checked as
``DefaultMQPushConsumerImpl.checkConfig`` checks them.

Times are seconds (Java's are milliseconds, ``consumeTimeout`` minutes),
except ``suspend_current_queue_time_millis``, whose name says milliseconds.
"""

from __future__ import annotations

import dataclasses
import time

from ..codec.errors import ConfigError
from ..optioncheck import enum_option
from ..types import ConsumeFromWhere, MessageModel
from .allocate import AllocateMessageQueueAveragely, AllocateStrategy
from .rebalance import parse_consume_timestamp

__all__ = ["PushOptions", "default_consume_timestamp"]


def default_consume_timestamp(now: float | None = None) -> str:
    """Java's default ``consumeTimestamp``: half an hour ago, ``yyyyMMddHHmmss`` local time."""
    moment = (time.time() if now is None else now) - 30 * 60
    return time.strftime("%Y%m%d%H%M%S", time.localtime(moment))


@dataclasses.dataclass
class PushOptions:
    """The push consumer's own options (Java names, Python units).

    Units: ``pull_interval``, ``consume_timeout`` (Java: minutes) and
    ``await_termination_when_shutdown`` (Java: milliseconds) are seconds;
    ``suspend_current_queue_time_millis`` keeps Java's name and unit,
    milliseconds; ``pull_threshold_size_*`` are MiB, as in Java."""

    message_model: MessageModel = MessageModel.CLUSTERING
    consume_from_where: ConsumeFromWhere = ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET
    consume_timestamp: str = ""
    allocate_strategy: AllocateStrategy = dataclasses.field(default_factory=AllocateMessageQueueAveragely)
    consume_thread_min: int = 20
    consume_thread_max: int = 20
    consume_concurrently_max_span: int = 2000
    pull_threshold_for_queue: int = 1000
    pull_threshold_size_for_queue: int = 100
    pull_threshold_for_topic: int = -1
    pull_threshold_size_for_topic: int = -1
    pull_interval: float = 0.0
    pull_batch_size: int = 32
    consume_message_batch_max_size: int = 1
    post_subscription_when_pull: bool = False
    max_reconsume_times: int = -1
    suspend_current_queue_time_millis: int = 1000
    consume_timeout: float = 15 * 60.0
    await_termination_when_shutdown: float = 0.0
    offset_store_dir: str | None = None

    def check(self) -> None:
        """``DefaultMQPushConsumerImpl.checkConfig``, as far as it applies."""

        def in_range(name: str, low: int, high: int) -> None:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ConfigError(f"{name} out of range [{low}, {high}]: {value!r}")

        in_range("consume_thread_min", 1, 1000)
        in_range("consume_thread_max", 1, 1000)
        if self.consume_thread_min > self.consume_thread_max:
            raise ConfigError("consume_thread_min can't be larger than consume_thread_max")
        in_range("consume_concurrently_max_span", 1, 65535)
        in_range("pull_threshold_for_queue", 1, 65535)
        in_range("pull_threshold_size_for_queue", 1, 1024)
        if self.pull_threshold_for_topic != -1:
            in_range("pull_threshold_for_topic", 1, 6553500)
        if self.pull_threshold_size_for_topic != -1:
            in_range("pull_threshold_size_for_topic", 1, 102400)
        in_range("consume_message_batch_max_size", 1, 1024)
        in_range("pull_batch_size", 1, 1024)
        in_range("max_reconsume_times", -1, 10000)
        if not isinstance(self.pull_interval, (int, float)) or not 0 <= self.pull_interval <= 65.535:
            raise ConfigError(f"pull_interval out of range [0, 65.535] seconds: {self.pull_interval!r}")
        if not isinstance(self.consume_timeout, (int, float)) or self.consume_timeout <= 0:
            raise ConfigError(f"consume_timeout must be a positive number of seconds: {self.consume_timeout!r}")
        self.message_model = enum_option(MessageModel, "message_model", self.message_model)
        self.consume_from_where = enum_option(ConsumeFromWhere, "consume_from_where", self.consume_from_where)
        if not self.consume_timestamp:
            self.consume_timestamp = default_consume_timestamp()
        parse_consume_timestamp(self.consume_timestamp)
        if not hasattr(self.allocate_strategy, "allocate"):
            raise ConfigError("allocate_strategy must have an allocate(group, cid, mq_all, cid_all) method")

    @property
    def effective_max_reconsume_times(self) -> int:
        """``getMaxReconsumeTimes``: -1 means 16."""
        return 16 if self.max_reconsume_times == -1 else self.max_reconsume_times
