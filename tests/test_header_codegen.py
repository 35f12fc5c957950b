"""The straight-line header conversions generated from each wire table give
what the row-by-row reference gives, for every header: the same dict, the
same header, or the same error (kafka-python's fast path / reference path
parity, here for ``codec/headers/base.py``)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmqwire.codec import EncodeError
from rmqwire.codec import headers as H
from rmqwire.codec.headers import CustomHeader, SendMessageRequestHeader, WireField

HEADERS: list[type[CustomHeader]] = [
    cls for name in H.__all__ for cls in [getattr(H, name)]
    if isinstance(cls, type) and issubclass(cls, CustomHeader) and cls is not CustomHeader
]
FORMS = [(cls, v2) for cls in HEADERS for v2 in (False, True) if (cls.WIRE.v2 if v2 else cls.WIRE.v1)]

# wire strings near every edge the decoders care about
RAW = st.one_of(
    st.sampled_from(["", "0", "1", "-1", "+5", "007", "true", "TRUE", "false", "yes", " 1", "1_0", "²",
                     "2147483647", "2147483648", "-2147483648", "9223372036854775807", "9223372036854775808",
                     "0000000000000000000000001", "123456789", "1234567890"]),
    st.text(max_size=12),
    st.integers(-(2**64), 2**64).map(str),
)


def outcome(fn: Any, *args: Any) -> Any:
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # the same error, message included
        return ("error", type(exc), str(exc))


def test_every_header_is_covered() -> None:
    assert SendMessageRequestHeader in HEADERS and len(HEADERS) >= 25


@pytest.mark.parametrize(("cls", "v2"), FORMS, ids=[f"{c.__name__}{'-v2' if v2 else ''}" for c, v2 in FORMS])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_generated_decoder_matches_the_reference(cls: type[CustomHeader], v2: bool, data: st.DataObject) -> None:
    pairs = cls.WIRE.v2 if v2 else cls.WIRE.v1
    keys = [key for key, _ in pairs]
    ext = data.draw(st.dictionaries(st.sampled_from(keys), RAW))
    if data.draw(st.booleans()):  # mostly well-formed: every required key, a plausible value
        for key, row in pairs:
            if row.required and key not in ext:
                ext[key] = {str: "x", int: "3", bool: "true"}[row.type]
    assert outcome(lambda: cls.from_ext_fields(ext, v2=v2)) == outcome(cls._from_ext_fields_slow, ext, v2)


def value_for(row: WireField) -> st.SearchStrategy[Any]:
    limit = 1 << (row.bits - 1)
    good = {str: st.text(max_size=8), int: st.integers(-limit, limit - 1), bool: st.booleans()}[row.type]
    bad = st.sampled_from([None, limit, -limit - 1, True, "1", 1.0, b"x"])
    return st.one_of(good, good, bad)


@pytest.mark.parametrize(("cls", "v2"), FORMS, ids=[f"{c.__name__}{'-v2' if v2 else ''}" for c, v2 in FORMS])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_generated_encoders_match_the_reference(cls: type[CustomHeader], v2: bool, data: st.DataObject) -> None:
    values = {row.attr: data.draw(value_for(row)) for row in cls.WIRE.rows}
    header = cls(**values)
    expected = outcome(header._ext_fields_slow, v2)
    assert outcome(header._ext_fields, v2) == expected
    args = [values[row.attr] for row in cls.WIRE.rows]
    assert outcome(cls.ext_fields_builder(v2), *args) == expected


def test_builder_takes_the_rows_in_table_order_and_raises_as_to_ext_fields() -> None:
    build = SendMessageRequestHeader.ext_fields_builder(v2=True)
    header = SendMessageRequestHeader(producer_group="g", topic="T", queue_id=1, born_timestamp=5, broker_name="b")
    args = [getattr(header, row.attr) for row in SendMessageRequestHeader.WIRE.rows]
    assert build(*args) == header.to_ext_fields(v2=True)
    args[4] = 2**31  # queue_id
    with pytest.raises(EncodeError, match="queue_id"):
        build(*args)
