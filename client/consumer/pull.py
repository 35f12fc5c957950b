"""``PullAPIWrapper``: one PULL_MESSAGE, and what its answer means.

Mirrors Java's ``PullAPIWrapper`` with ``MQClientAPIImpl.processPullResponse``
(consumer-protocol.md section 4).  :meth:`PullApi.pull` builds the request
header (the ``sysFlag`` bits, the long-poll suspend time, the commit offset
riding along), sends it to the broker the last answer suggested (the master
by default; a slave never takes the commit bit) and maps the response code
to a :class:`PullStatus`: SUCCESS is FOUND, 19 NO_NEW_MSG, 20
NO_MATCHED_MSG, 21 OFFSET_ILLEGAL, anything else raises the broker's error.
:meth:`PullApi.process_pull_result` decodes the stored messages of a FOUND
body and filters them again by tag string (the broker filtered by tag hash
code, which may collide).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field

from ..codec.body import SubscriptionData
from ..codec.enums import PullSysFlag, RequestCode, ResponseCode
from ..codec.errors import BrokerError
from ..codec.filter import tags_match
from ..codec.headers import PullMessageRequestHeader, PullMessageResponseHeader
from ..codec.message import PROPERTY_MAX_OFFSET, PROPERTY_MIN_OFFSET
from ..codec.store import MessageExt, decode_messages
from ..types import MessageQueue
from .broker_api import MASTER_ID, ConsumerApi

__all__ = [
    "PullStatus",
    "PullResult",
    "PullApi",
    "build_pull_sys_flag",
    "BROKER_SUSPEND_MAX_TIME_MILLIS",
    "CONSUMER_TIMEOUT_WHEN_SUSPEND",
]

log = logging.getLogger(__name__)

#: how long the broker may hold a push consumer's pull (``BROKER_SUSPEND_MAX_TIME_MILLIS``)
BROKER_SUSPEND_MAX_TIME_MILLIS = 15000
#: the client's timeout for such a pull, seconds (``CONSUMER_TIMEOUT_MILLIS_WHEN_SUSPEND``)
CONSUMER_TIMEOUT_WHEN_SUSPEND = 30.0


class PullStatus(enum.Enum):
    """Java ``PullStatus``."""

    FOUND = "FOUND"
    NO_NEW_MSG = "NO_NEW_MSG"
    NO_MATCHED_MSG = "NO_MATCHED_MSG"
    OFFSET_ILLEGAL = "OFFSET_ILLEGAL"


_STATUS = {
    ResponseCode.SUCCESS: PullStatus.FOUND,
    ResponseCode.PULL_NOT_FOUND: PullStatus.NO_NEW_MSG,
    ResponseCode.PULL_RETRY_IMMEDIATELY: PullStatus.NO_MATCHED_MSG,
    ResponseCode.PULL_OFFSET_MOVED: PullStatus.OFFSET_ILLEGAL,
}


@dataclass(slots=True)
class PullResult:
    """What one pull brought: status, where to go on from, the messages."""

    status: PullStatus
    next_begin_offset: int
    min_offset: int
    max_offset: int
    suggest_which_broker_id: int = MASTER_ID
    body: bytes = b""
    msgs: list[MessageExt] = field(default_factory=list)


def build_pull_sys_flag(commit_offset: bool, suspend: bool, subscription: bool, class_filter: bool = False,
                        lite_pull: bool = False) -> int:
    """``PullSysFlag.buildSysFlag``."""
    flag = 0
    if commit_offset:
        flag |= PullSysFlag.COMMIT_OFFSET
    if suspend:
        flag |= PullSysFlag.SUSPEND
    if subscription:
        flag |= PullSysFlag.SUBSCRIPTION
    if class_filter:
        flag |= PullSysFlag.CLASS_FILTER
    if lite_pull:
        flag |= PullSysFlag.LITE_PULL
    return int(flag)


class PullApi:
    """Pulls of one consumer group, remembering which broker each queue should use."""

    def __init__(self, api: ConsumerApi) -> None:
        self.api = api
        self.group = api.group
        #: mq -> the broker id the last pull response suggested
        self.pull_from_which_node: dict[MessageQueue, int] = {}

    async def pull(
        self,
        mq: MessageQueue,
        subscription: SubscriptionData,
        offset: int,
        max_nums: int,
        sys_flag: int,
        commit_offset: int,
        suspend_timeout_millis: int,
        timeout: float,
        *,
        sub_version: int | None = None,
    ) -> PullResult:
        """``pullKernelImpl``: one PULL_MESSAGE; raises on transport or broker errors."""
        broker = await self.api.find_broker(mq, self.pull_from_which_node.get(mq, MASTER_ID), False)
        if broker.slave:
            sys_flag &= ~int(PullSysFlag.COMMIT_OFFSET)
        header = PullMessageRequestHeader(
            consumer_group=self.group,
            topic=mq.topic,
            queue_id=mq.queue_id,
            queue_offset=offset,
            max_msg_nums=max_nums,
            sys_flag=sys_flag,
            commit_offset=commit_offset,
            suspend_timeout_millis=suspend_timeout_millis,
            subscription=subscription.sub_string if sys_flag & PullSysFlag.SUBSCRIPTION else None,
            sub_version=subscription.sub_version if sub_version is None else sub_version,
            expression_type=subscription.expression_type,
            broker_name=mq.broker_name,
        )
        instance = self.api.instance
        cmd = instance.make_request(RequestCode.PULL_MESSAGE, header.to_ext_fields())
        response = await instance.invoke(broker.addr, cmd, timeout)
        status = _STATUS.get(response.code)  # type: ignore[call-overload]
        if status is None:
            raise BrokerError.for_code(response.code, response.remark, broker.addr)
        rh = PullMessageResponseHeader.from_command(response)
        return PullResult(
            status=status,
            next_begin_offset=rh.next_begin_offset,
            min_offset=rh.min_offset,
            max_offset=rh.max_offset,
            suggest_which_broker_id=rh.suggest_which_broker_id,
            body=response.body or b"",
        )

    def process_pull_result(self, mq: MessageQueue, result: PullResult, subscription: SubscriptionData) -> PullResult:
        """Remember the suggested broker; decode a FOUND body and keep only
        the messages whose tag the subscription names.  A body that does not
        decode raises :class:`~codec.errors.CodecError`."""
        self.pull_from_which_node[mq] = result.suggest_which_broker_id
        if result.status is PullStatus.FOUND and result.body:
            msgs = decode_messages(result.body, broker_name=mq.broker_name)
            if subscription.tags_set and not subscription.class_filter_mode:
                msgs = [m for m in msgs if tags_match(subscription, m.tags)]
            low, high = str(result.min_offset), str(result.max_offset)
            for m in msgs:  # a freshly decoded message owns its properties dict
                m.properties[PROPERTY_MIN_OFFSET] = low
                m.properties[PROPERTY_MAX_OFFSET] = high
            result.msgs = msgs
        result.body = b""
        return result
