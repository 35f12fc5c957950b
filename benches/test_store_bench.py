"""Decoding a pull body: 32 stored-message records (what one PULL_MESSAGE
answer carries by default, ``pullBatchSize=32``), through the public
:func:`codec.decode_messages` against the hand-written struct decoder in
benches/reference.py.  Both make the same ``MessageExt`` values."""

from __future__ import annotations

from typing import Any

import pytest

from rmqwire.codec import decode_messages, encode_message

from . import reference
from .cases import PULL_BODY_CASE, pull_body

BODY = pull_body()
DECODERS = {"reference": reference.decode_messages, "public": decode_messages}


@pytest.mark.parametrize("impl", list(DECODERS))
def test_decode_pull_body(benchmark: Any, impl: str) -> None:
    benchmark.group = f"{PULL_BODY_CASE} decode"
    benchmark.extra_info.update(case=PULL_BODY_CASE, op="decode", impl=impl)
    messages = benchmark(DECODERS[impl], BODY)
    assert len(messages) == 32
    assert messages == decode_messages(BODY)


def test_reference_agrees_with_the_codec() -> None:
    messages = decode_messages(BODY)
    assert reference.decode_messages(BODY) == messages
    assert messages[5].properties["UNIQ_KEY"] and messages[5].born_host == "192.168.1.10:54321"
    assert b"".join(
        encode_message(topic=m.topic, body=m.body, properties=m.properties, queue_id=m.queue_id,
                       queue_offset=m.queue_offset, commit_log_offset=m.commit_log_offset, sys_flag=m.sys_flag,
                       born_timestamp=m.born_timestamp, born_host=m.born_host, store_timestamp=m.store_timestamp,
                       store_host=m.store_host)
        for m in messages
    ) == BODY
