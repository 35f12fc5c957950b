"""Tag filtering as Java's FilterAPI and PullAPIWrapper do it.

Provenance: ``hello`` -> 99162322, ``Aa``/``BB`` -> 2112 (the classic
collision) and ``polygenelubricants`` -> Integer.MIN_VALUE are well-known
values of Java's ``String.hashCode``; the others were computed by the
algorithm of ``String.hashCode`` (``31*h + char`` over UTF-16 code units,
int32 wrap) by hand from the code units listed.  The golden Java sessions
subscribe with ``*`` only (their heartbeats carry empty codeSets), so the
heartbeat cross-check below checks that, and that the hash agrees with
every tag a real Java client put in a heartbeat, when there is one.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmqwire.codec import ConfigError, HeartbeatData, SubscriptionData
from rmqwire.codec.filter import build_subscription, java_trim, tag_hash_code, tags_match

from golden_support import golden_commands

KNOWN = [
    ("", 0),
    ("a", 97),
    ("hello", 99162322),
    ("Aa", 2112),
    ("BB", 2112),
    ("polygenelubricants", -2147483648),
    ("TagA", 2598919),  # 'T'=84 'a'=97 'g'=103 'A'=65
    ("TagB", 2598920),
    ("\u00e9", 233),  # é: one BMP unit
    ("\u6807\u7b7e", 857175),  # 标签: 0x6807*31 + 0x7b7e
    ("\U0001f600", 1772899),  # 😀: surrogates 0xD83D, 0xDE00
    ("\ud800", 55296),  # a lone surrogate counts as itself
]


@pytest.mark.parametrize(("tag", "expected"), KNOWN)
def test_tag_hash_code_is_java_string_hash_code(tag: str, expected: int) -> None:
    assert tag_hash_code(tag) == expected


def test_tag_hash_code_wraps_to_int32() -> None:
    long_tag = "z" * 1000
    value = tag_hash_code(long_tag)
    assert -(2**31) <= value < 2**31
    h = 0
    for ch in long_tag:
        h = (31 * h + ord(ch)) % 2**32
    assert value == (h - 2**32 if h >= 2**31 else h)


def _utf16_units(text: str) -> list[int]:
    units = []
    for ch in text:
        cp = ord(ch)
        if cp > 0xFFFF:  # a supplementary character is two surrogates in Java
            cp -= 0x10000
            units += [0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF)]
        else:
            units.append(cp)
    return units


@given(st.text())
def test_tag_hash_code_over_any_text(text: str) -> None:
    h = 0
    for unit in _utf16_units(text):
        h = (31 * h + unit) & 0xFFFFFFFF
    assert tag_hash_code(text) == (h - (1 << 32) if h & 0x80000000 else h)


@pytest.mark.parametrize("expression", [None, "", "*"])
def test_star_and_empty_subscribe_to_everything(expression: str | None) -> None:
    sub = build_subscription("T", expression, sub_version=1)
    assert sub == SubscriptionData(topic="T", sub_string="*", sub_version=1)


def test_tags_are_split_on_double_bar_and_trimmed() -> None:
    sub = build_subscription("T", " TagA || TagB |||| TagA||", sub_version=5)
    assert sub.sub_string == " TagA || TagB |||| TagA||"  # kept as given, as Java keeps it
    assert sub.tags_set == ("TagA", "TagB")  # empty parts dropped, a set: TagA once
    assert sub.code_set == (2598919, 2598920)
    # split is leftmost and non-overlapping, as Java's split("\\|\\|")
    assert build_subscription("T", "A||| |B", sub_version=0).tags_set == ("A", "| |B")
    assert sub.expression_type == "TAG" and sub.sub_version == 5


def test_java_trim_strips_control_characters_but_not_unicode_spaces() -> None:
    assert java_trim("\t\x00 Tag\n") == "Tag"
    assert java_trim("\u3000Tag\u00a0") == "\u3000Tag\u00a0"
    assert build_subscription("T", "\u3000A", sub_version=0).tags_set == ("\u3000A",)


def test_sub_version_defaults_to_the_clock_in_milliseconds() -> None:
    sub = build_subscription("T", "*")
    assert sub.sub_version > 1_600_000_000_000


def test_sql92_keeps_the_expression_whole() -> None:
    sub = build_subscription("T", "a > 1 || b = 2", expression_type="SQL92", sub_version=3)
    assert (sub.sub_string, sub.tags_set, sub.code_set, sub.expression_type) == ("a > 1 || b = 2", (), (), "SQL92")
    with pytest.raises(ConfigError):
        build_subscription("T", "", expression_type="SQL92")


def test_client_side_recheck() -> None:
    star = build_subscription("T", "*", sub_version=0)
    assert tags_match(star, None) and tags_match(star, "anything")
    ab = build_subscription("T", "Aa || TagB", sub_version=0)
    assert tags_match(ab, "Aa") and tags_match(ab, "TagB")
    assert not tags_match(ab, "BB")  # same hash as Aa: the broker lets it through, the client must not
    assert not tags_match(ab, None)
    assert not tags_match(ab, "Aa || TagB")  # a message's tag is one string, never split
    classy = SubscriptionData(topic="T", sub_string="x", tags_set=("x",), class_filter_mode=True)
    assert tags_match(classy, "y")


def test_golden_java_heartbeats_agree_with_the_hash() -> None:
    seen = 0
    for name in ("java-broker-4.9.8.jsonl", "java-broker-4.9.8-tx-order-ns.jsonl"):
        for _, cmd in golden_commands(name):
            if cmd.code != 34 or cmd.is_response:
                continue
            for consumer in HeartbeatData.from_json(cmd.body).consumer_data_set:
                for sub in consumer.subscription_data_set:
                    seen += 1
                    assert list(sub.code_set) == [tag_hash_code(t) for t in sub.tags_set]
                    if sub.sub_string == "*":
                        assert sub.tags_set == () and sub.code_set == ()
    assert seen > 0
