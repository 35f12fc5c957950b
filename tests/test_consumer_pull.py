"""The pull wrapper over a fake instance: the request it writes, the status
each response code means, the client-side tag filter."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rmqwire import MessageQueue
from rmqwire.codec.command import RemotingCommand
from rmqwire.codec.enums import PullSysFlag, RequestCode
from rmqwire.codec.errors import BrokerError, NoPermissionError
from rmqwire.codec.filter import build_subscription
from rmqwire.codec.store import encode_message
from rmqwire.consumer.broker_api import ConsumerApi
from rmqwire.consumer.pull import PullApi, PullStatus, build_pull_sys_flag
from rmqwire.instance import FindBrokerResult

MQ = MessageQueue("T", "broker-a", 2)


class FakeInstance:
    def __init__(self, response: RemotingCommand, slave: bool = False) -> None:
        self.response = response
        self.slave = slave
        self.sent: list[tuple[str, RemotingCommand, float]] = []
        self.config = type("C", (), {"request_timeout": 3.0})()

    def find_broker_address_in_subscribe(self, name: str, broker_id: int = 0, only: bool = False) -> FindBrokerResult:
        return FindBrokerResult("10.0.0.2:10911" if self.slave else "10.0.0.1:10911", self.slave)

    def make_request(self, code: int, ext: dict[str, str] | None = None, body: bytes = b"", *, oneway: bool = False) -> RemotingCommand:
        return RemotingCommand.request(code, ext, body, oneway=oneway)

    async def invoke(self, addr: str, cmd: RemotingCommand, timeout: float) -> RemotingCommand:
        self.sent.append((addr, cmd, timeout))
        return self.response


def record(offset: int, tags: str | None) -> bytes:
    props = {"TAGS": tags} if tags else {}
    return encode_message(topic="T", body=f"m{offset}".encode(), properties=props, queue_id=2, queue_offset=offset,
                          commit_log_offset=1000 + offset, sys_flag=0, born_timestamp=1, born_host="127.0.0.1:1",
                          store_timestamp=2, store_host="127.0.0.1:10911")


def response(code: int, body: bytes = b"", suggest: int = 0) -> RemotingCommand:
    ext = {"suggestWhichBrokerId": str(suggest), "nextBeginOffset": "7", "minOffset": "0", "maxOffset": "9"}
    return RemotingCommand.response(code, 1, None, ext, body)


def pull(instance: FakeInstance, sys_flag: int, expression: str = "*") -> Any:
    api = PullApi(ConsumerApi(instance, "g"))  # type: ignore[arg-type]
    sub = build_subscription("T", expression, sub_version=123)

    async def go() -> Any:
        result = await api.pull(MQ, sub, 4, 32, sys_flag, 3, 15000, 30.0)
        return api, sub, api.process_pull_result(MQ, result, sub)

    return asyncio.run(go())


def test_the_request_is_javas_push_pull() -> None:
    inst = FakeInstance(response(19))
    flag = build_pull_sys_flag(True, True, False)
    assert flag == PullSysFlag.COMMIT_OFFSET | PullSysFlag.SUSPEND == 3
    pull(inst, flag)
    addr, cmd, timeout = inst.sent[0]
    assert cmd.code == RequestCode.PULL_MESSAGE and addr == "10.0.0.1:10911" and timeout == 30.0
    ext = cmd.ext_fields
    assert ext["consumerGroup"] == "g" and ext["topic"] == "T" and ext["queueId"] == "2" and ext["bname"] == "broker-a"
    assert (ext["queueOffset"], ext["maxMsgNums"], ext["sysFlag"], ext["commitOffset"]) == ("4", "32", "3", "3")
    assert (ext["suspendTimeoutMillis"], ext["subVersion"], ext["expressionType"]) == ("15000", "123", "TAG")
    assert "subscription" not in ext  # only with the SUBSCRIPTION bit


def test_the_subscription_rides_along_with_its_bit_and_a_slave_never_commits() -> None:
    inst = FakeInstance(response(19), slave=True)
    pull(inst, build_pull_sys_flag(True, True, True, lite_pull=True), "A || B")
    ext = inst.sent[0][1].ext_fields
    assert ext["subscription"] == "A || B"
    assert int(ext["sysFlag"]) == PullSysFlag.SUSPEND | PullSysFlag.SUBSCRIPTION | PullSysFlag.LITE_PULL


@pytest.mark.parametrize("code, status", [(19, PullStatus.NO_NEW_MSG), (20, PullStatus.NO_MATCHED_MSG),
                                          (21, PullStatus.OFFSET_ILLEGAL)])
def test_response_codes_map_to_pull_statuses(code: int, status: PullStatus) -> None:
    _, _, result = pull(FakeInstance(response(code)), 2)
    assert result.status is status and result.next_begin_offset == 7 and result.msgs == []


def test_another_code_raises_the_brokers_error() -> None:
    with pytest.raises(BrokerError) as info:
        pull(FakeInstance(response(16)), 2)
    assert isinstance(info.value, NoPermissionError) and info.value.code == 16


def test_found_messages_are_decoded_and_filtered_by_tag_string() -> None:
    body = record(4, "A") + record(5, "C") + record(6, None)
    api, _, result = pull(FakeInstance(response(0, body, suggest=1)), 2, "A || B")
    assert result.status is PullStatus.FOUND
    assert [(m.queue_offset, m.tags, m.body, m.broker_name) for m in result.msgs] == [(4, "A", b"m4", "broker-a")]
    assert (result.msgs[0].properties["MIN_OFFSET"], result.msgs[0].properties["MAX_OFFSET"]) == ("0", "9")
    assert api.pull_from_which_node[MQ] == 1  # the next pull goes where the broker suggested
    _, _, everything = pull(FakeInstance(response(0, body)), 2, "*")
    assert [m.queue_offset for m in everything.msgs] == [4, 5, 6]
