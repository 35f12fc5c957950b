"""Constructor options: a typo names the closest valid option, an enum option
lists its values, help() shows every option, a listener returning None is
RECONSUME_LATER with one warning."""

from __future__ import annotations

import asyncio
import logging
import pydoc
from typing import Any

import pytest

from rmqwire import (
    AsyncLitePullConsumer,
    AsyncProducer,
    AsyncPushConsumer,
    ConsumeFromWhere,
    LitePullConsumer,
    MessageModel,
    Producer,
    PushConsumer,
)
from rmqwire.codec import LanguageCode, SerializeType
from rmqwire.codec.errors import ConfigError
from test_consumer_consume import Msg, feed, setup, wait_for

CLIENTS: list[Any] = [PushConsumer, AsyncPushConsumer, LitePullConsumer, AsyncLitePullConsumer]


@pytest.mark.parametrize("cls", CLIENTS + [Producer, AsyncProducer])
def test_a_misspelt_option_names_the_closest_valid_one(cls: Any) -> None:
    with pytest.raises(ConfigError, match=r"unknown option 'namesrv_adr'; did you mean 'namesrv_addr'\?") as info:
        cls("g", namesrv_adr="127.0.0.1:9876")
    assert cls.__name__ in str(info.value)
    with pytest.raises(ConfigError, match=r"unknown option 'zzz'; valid options: .*namesrv_addr"):
        cls("g", zzz=1)


@pytest.mark.parametrize("cls", CLIENTS)
def test_a_client_option_of_a_consumer_is_checked_too(cls: Any) -> None:
    with pytest.raises(ConfigError, match="did you mean 'rebalance_interval'"):
        cls("g", namesrv_addr="127.0.0.1:9876", rebalance_intervall=1.0)


@pytest.mark.parametrize("cls", CLIENTS)
def test_enum_options_take_the_member_or_its_name_and_list_the_valid_values(cls: Any) -> None:
    with pytest.raises(ConfigError, match="message_model must be one of BROADCASTING, CLUSTERING"):
        cls("g", namesrv_addr="127.0.0.1:9876", message_model="nope")
    with pytest.raises(ConfigError, match="consume_from_where must be one of .*CONSUME_FROM_FIRST_OFFSET"):
        cls("g", namesrv_addr="127.0.0.1:9876", consume_from_where="first")
    with pytest.raises(ConfigError, match="serialize_type must be one of JSON, ROCKETMQ"):
        cls("g", namesrv_addr="127.0.0.1:9876", serialize_type="xml")
    with pytest.raises(ConfigError, match="language must be one of .*PYTHON"):
        cls("g", namesrv_addr="127.0.0.1:9876", language="klingon")
    core = cls("g", namesrv_addr="127.0.0.1:9876", message_model="BROADCASTING",
               consume_from_where="CONSUME_FROM_FIRST_OFFSET", serialize_type="ROCKETMQ")
    core = getattr(core, "core", core)
    assert core.message_model is MessageModel.BROADCASTING
    assert core.consume_from_where is ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET
    assert core._client.serialize_type is SerializeType.ROCKETMQ and core._client.language is LanguageCode.PYTHON


def test_the_producer_checks_its_serialize_type_as_well() -> None:
    with pytest.raises(ConfigError, match="serialize_type must be one of JSON, ROCKETMQ"):
        AsyncProducer("g", namesrv_addr="127.0.0.1:9876", serialize_type="xml")


@pytest.mark.parametrize("cls", CLIENTS + [Producer, AsyncProducer])
def test_help_lists_every_option_with_its_default(cls: Any) -> None:
    text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
    assert "namesrv_addr = None" in text and "request_timeout = 3.0" in text
    if "Push" in cls.__name__:
        assert "message_model = MessageModel.CLUSTERING" in text and "rebalance_interval = 20.0" in text
        assert "suspend_current_queue_time_millis = 1000" in text


def test_a_listener_returning_none_is_reconsume_later_and_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> list[Any]:
        async def listener(msgs: list[Any]) -> None:
            return None

        service, host, _, pq = setup(listener)
        feed(service, pq, [Msg(0), Msg(1), Msg(2)])
        await wait_for(lambda: pq.msg_count == 0)
        return host.sent_back

    with caplog.at_level(logging.WARNING, logger="rmqwire.consumer.consume"):
        sent_back = asyncio.run(main())
    assert sorted(m.queue_offset for m, _, _ in sent_back) == [0, 1, 2]  # RECONSUME_LATER
    warnings = [r for r in caplog.records if "returned None" in r.getMessage()]
    assert len(warnings) == 1
