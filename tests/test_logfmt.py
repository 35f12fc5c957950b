"""Commands in log lines: the code by name, a body cut to a preview with its
length, the security token masked, and nothing built unless logged."""

from __future__ import annotations

import logging

import pytest

from rmqwire.codec import RemotingCommand, RequestCode, ResponseCode
from rmqwire.codec.acl import SECURITY_TOKEN
from rmqwire.logfmt import BODY_PREVIEW, code_name, loggable, preview


def test_a_long_body_shows_its_first_200_bytes_and_its_length() -> None:
    body = b"x" * 5000
    text = repr(loggable(RemotingCommand.request(RequestCode.SEND_MESSAGE_V2, {"a": "1"}, body=body, opaque=9)))
    assert text.startswith("SEND_MESSAGE_V2(310) request opaque=9 ext={'a': '1'} body=b'")
    assert text.endswith(f"b'{'x' * BODY_PREVIEW}'... (5000 bytes)")
    assert len(text) < BODY_PREVIEW + 100


def test_a_short_body_is_shown_whole_and_an_empty_one_not_at_all() -> None:
    assert preview(b"\x00hi") == repr(b"\x00hi")
    assert preview(b"y" * BODY_PREVIEW) == repr(b"y" * BODY_PREVIEW)
    assert "body=" not in repr(loggable(RemotingCommand.request(RequestCode.HEART_BEAT, opaque=1)))


def test_responses_oneways_and_unknown_codes_are_named_as_such() -> None:
    request = RemotingCommand.request(RequestCode.SEND_MESSAGE, opaque=4)
    response = RemotingCommand.response(ResponseCode.SYSTEM_BUSY, 4, "busy")
    assert repr(loggable(response)) == "SYSTEM_BUSY(2) response opaque=4 remark='busy'"
    assert repr(loggable(RemotingCommand.request(RequestCode.HEART_BEAT, oneway=True))).startswith(
        "HEART_BEAT(34) oneway opaque=")
    assert code_name(request) == "SEND_MESSAGE" and code_name(RemotingCommand.request(9001)) == "9001"
    assert str(loggable(response)) == repr(loggable(response))


def test_the_security_token_is_masked_and_the_command_untouched() -> None:
    cmd = RemotingCommand.request(RequestCode.SEND_MESSAGE, {"AccessKey": "ak", SECURITY_TOKEN: "secret-token"})
    text = repr(loggable(cmd))
    assert "secret-token" not in text and f"'{SECURITY_TOKEN}': '***'" in text and "'AccessKey': 'ak'" in text
    assert cmd.ext_fields[SECURITY_TOKEN] == "secret-token"


def test_nothing_is_formatted_unless_the_line_is_emitted(caplog: pytest.LogCaptureFixture,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr("rmqwire.logfmt.code_name", lambda cmd: calls.append(cmd.code) or "X")
    log = logging.getLogger("rmqwire.test_logfmt")
    cmd = RemotingCommand.request(RequestCode.HEART_BEAT, opaque=1)
    with caplog.at_level(logging.INFO, logger="rmqwire.test_logfmt"):
        log.debug("%r", loggable(cmd))
        assert calls == []
        log.info("%r", loggable(cmd))
    assert calls == [RequestCode.HEART_BEAT]


def test_outgoing_requests_are_logged_with_the_opaque_they_went_out_with(caplog: pytest.LogCaptureFixture) -> None:
    import asyncio
    import re

    from rmqwire.testing import LocalBroker
    from rmqwire.transport import open_connection

    async def scenario() -> None:
        async with LocalBroker() as broker:
            conn = await open_connection(broker.namesrv_addr)
            try:
                with caplog.at_level(logging.DEBUG, "rmqwire.transport"):
                    for _ in range(3):
                        await conn.request(RemotingCommand.request(RequestCode.GET_BROKER_CLUSTER_INFO), 3.0)
            finally:
                conn.close()
                await conn.wait_closed()

    asyncio.run(scenario())
    sent = [int(m) for m in re.findall(r"-> \S+ \S+: \S+ request opaque=(\d+)", caplog.text)]
    answered = [int(m) for m in re.findall(r"<- \S+ \S+: \S+ response opaque=(\d+)", caplog.text)]
    assert len(sent) == 3 and len(set(sent)) == 3, caplog.text
    assert answered == sent
