"""The SSE parser against the WHATWG rules, the shared vectors (whole, byte by byte, split anywhere),
and hypothesis: however the input is split, the same events come out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.plugins.sse import ServerSentEvent, SSEEventTooLargeError, SSEParser

VECTORS = json.loads((Path(__file__).parent / "data" / "sse_vectors.json").read_text())["cases"]
PARSER_VECTORS = [case for case in VECTORS if not case.get("fail_connection")]


def parse(*chunks: bytes, **kwargs: Any) -> tuple[list[ServerSentEvent], SSEParser]:
    parser = SSEParser(**kwargs)
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    parser.close()
    return events, parser


def as_expected(events: list[ServerSentEvent]) -> list[dict[str, str | None]]:
    return [{"type": e.type, "data": e.data, "lastEventId": e.id or ""} for e in events if e.data is not None]


def check(case: dict[str, Any], pieces: list[bytes]) -> None:
    events, parser = parse(*pieces)
    assert as_expected(events) == case["expect"], case["id"]
    if "retry_ms" in case:
        assert parser.reconnection_time == case["retry_ms"], case["id"]


@pytest.mark.parametrize("case", PARSER_VECTORS, ids=[c["id"] for c in PARSER_VECTORS])
def test_vector_whole(case: dict[str, Any]) -> None:
    check(case, [chunk.encode("latin-1") for chunk in case["chunks"]])


@pytest.mark.parametrize("case", PARSER_VECTORS, ids=[c["id"] for c in PARSER_VECTORS])
def test_vector_byte_by_byte(case: dict[str, Any]) -> None:
    raw = "".join(case["chunks"]).encode("latin-1")
    check(case, [raw[i : i + 1] for i in range(len(raw))])


@pytest.mark.parametrize("case", PARSER_VECTORS, ids=[c["id"] for c in PARSER_VECTORS])
def test_vector_split_at_every_position(case: dict[str, Any]) -> None:
    raw = "".join(case["chunks"]).encode("latin-1")
    for cut in range(len(raw) + 1):
        check(case, [raw[:cut], raw[cut:]])


def test_every_line_ending_works_and_mixes() -> None:
    events, _ = parse(b"data:a\r\rdata:b\n\ndata:c\r\n\r\ndata:d\r\n\n")
    assert [e.data for e in events] == ["a", "b", "c", "d"]


def test_a_crlf_split_across_chunks_is_one_line_end() -> None:
    events, _ = parse(b"data:a\r", b"\n", b"data:b\r", b"\n\r", b"\n")
    assert [e.data for e in events] == ["a\nb"]


def test_a_leading_bom_is_dropped_once_only() -> None:
    events, _ = parse(b"\xef\xbb", b"\xbfdata:x\n\n\xef\xbb\xbfdata:y\n\n")
    assert [e.data for e in events] == ["x"]  # the second BOM makes an unknown field name


def test_one_leading_space_is_stripped_from_values() -> None:
    events, _ = parse(b"data:  two spaces\nevent: kind\n\n")
    assert (events[0].data, events[0].event) == (" two spaces", "kind")


def test_multi_line_data_is_joined_with_newlines() -> None:
    events, _ = parse(b"data: first\ndata:\ndata: third\n\n")
    assert events[0].data == "first\n\nthird"


def test_a_block_without_data_dispatches_nothing_but_an_empty_data_line_does() -> None:
    events, _ = parse(b"event: nothing\nid: 7\n\ndata:\n\n")
    assert [(e.data, e.id) for e in events] == [("", "7")]


def test_an_id_with_nul_is_ignored_and_the_last_id_carries_over() -> None:
    events, parser = parse(b"id: a\ndata: 1\n\nid: b\x00c\ndata: 2\n\ndata: 3\n\nid\ndata: 4\n\n")
    assert [e.id for e in events] == ["a", "a", "a", None]
    assert parser.last_event_id == ""


def test_retry_counts_only_when_all_digits() -> None:
    events, parser = parse(
        b"retry: 1500\ndata: a\n\nretry: 15x\ndata: b\n\nretry:\ndata: c\n\nretry: \xd9\xa3\ndata: d\n\n"
    )
    assert [e.retry for e in events] == [1500, None, None, None]
    assert parser.reconnection_time == 1500


def test_comments_are_collected_and_shown_only_on_request() -> None:
    events, _ = parse(b": keep-alive\n\n: note\ndata: x\n\n")
    assert [(e.data, e.comments) for e in events] == [(None, "keep-alive"), ("x", "note")]


def test_an_unterminated_event_at_the_end_is_discarded() -> None:
    events, parser = parse(b"data: complete\n\nid: 9\ndata: incomplete\n")
    assert [e.data for e in events] == ["complete"]
    assert parser.last_event_id == ""


def test_invalid_utf8_becomes_replacement_characters() -> None:
    events, _ = parse(b"data: \xff\xfe ok\n\n")
    assert events[0].data == "\ufffd\ufffd ok"


def test_an_event_over_the_limit_raises_naming_the_limit() -> None:
    parser = SSEParser(max_event_size=100)
    parser.feed(b"data: " + b"x" * 60 + b"\n")
    with pytest.raises(SSEEventTooLargeError, match="max_event_size=100"):
        parser.feed(b"data: " + b"y" * 60 + b"\n")


def test_a_line_that_never_ends_cannot_grow_past_the_limit() -> None:
    parser = SSEParser(max_event_size=1000)
    with pytest.raises(SSEEventTooLargeError, match="max_event_size=1000"):
        for _ in range(100):
            parser.feed(b"z" * 100)


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_event_size must be positive"):
        SSEParser(max_event_size=0)


def _all_events(chunks: list[bytes]) -> tuple[list[ServerSentEvent], int | None]:
    events, parser = parse(*chunks)
    return events, parser.reconnection_time


stream_pieces = st.lists(
    st.sampled_from(
        [b"data", b":", b" ", b"x", b"\xc3\xa9", b"\r", b"\n", b"\r\n", b"id", b"event", b"retry", b"12", b"\x00",
         b"\xef\xbb\xbf"]
    ),
    max_size=60,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(stream_pieces, st.data())
def test_splitting_the_input_anywhere_gives_the_same_events(pieces: list[bytes], data: st.DataObject) -> None:
    raw = b"".join(pieces)
    expected = _all_events([raw])
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=8)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert _all_events(chunks) == expected


class _Reference(NamedTuple):
    events: list[ServerSentEvent]
    reconnection_time: int | None
    last_event_id: str
    largest_data: int  # the most data one event held, counted as the parser does: each line plus one
    longest_line: int


def _reference(raw: bytes) -> _Reference:
    """The WHATWG algorithm written the plain way, one line at a time (the model the fast parser must match),
    with tether's additions: comment and retry blocks, and the sizes `max_event_size` bounds."""
    text = raw.decode("utf-8", "replace").removeprefix("\ufeff")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    longest_line = max(map(len, lines))
    events: list[ServerSentEvent] = []
    data: list[str] = []
    comments: list[str] = []
    event_type = id_buffer = last_id = ""
    retry: int | None = None
    reconnection_time: int | None = None
    largest_data = 0
    for line in lines[:-1]:  # the unterminated rest is discarded
        if line == "":
            last_id = id_buffer
            if data or comments or retry is not None:
                events.append(
                    ServerSentEvent(
                        "\n".join(data) if data else None,
                        event_type or None,
                        last_id or None,
                        retry,
                        "\n".join(comments) if comments else None,
                    )
                )
            data, comments, event_type, retry = [], [], "", None
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
            largest_data = max(largest_data, sum(len(d) + 1 for d in data))
        elif name == "event":
            event_type = value
        elif name == "id" and "\x00" not in value:
            id_buffer = value
        elif name == "retry" and value.isascii() and value.isdigit():
            retry = reconnection_time = int(value)
        elif name == "":
            comments.append(value)
    return _Reference(events, reconnection_time, last_id, largest_data, longest_line)


@settings(max_examples=500, deadline=None)
@given(stream_pieces)
def test_the_parser_agrees_with_the_plain_algorithm(pieces: list[bytes]) -> None:
    raw = b"".join(pieces)
    events, parser = parse(raw)
    expected = _reference(raw)
    assert (events, parser.reconnection_time, parser.last_event_id) == expected[:3]


# Whole lines, as servers send them: the "name: value" form the parser matches first, and the forms
# that take it off that path (no space, an earlier colon, no colon, unknown names, comments).
field_lines = st.builds(
    lambda name, separator, value: name + separator + value,
    st.sampled_from(["data", "data", "id", "event", "retry", "", "dat", "data ", "x"]),
    st.sampled_from([": ", ": ", ":", ":  ", "", ": :", "::"]),
    st.text(alphabet="ab :\x00\u00e91", max_size=12),
)
line_streams = st.lists(
    st.tuples(st.one_of(field_lines, st.just("")), st.sampled_from(["\n", "\n", "\r", "\r\n"])), max_size=40
)


@settings(max_examples=500, deadline=None)
@given(line_streams, st.text(alphabet="da: 1", max_size=6), st.integers(1, 60), st.data())
def test_any_chunking_of_any_stream_gives_the_plain_algorithms_events_and_limit(
    lines: list[tuple[str, str]], unterminated: str, limit: int, data: st.DataObject
) -> None:
    raw = ("".join(line + end for line, end in lines) + unterminated).encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=12)))  # may split a CRLF or an é
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    expected = _reference(raw)
    try:
        events, parser = parse(*chunks, max_event_size=limit)
    except SSEEventTooLargeError:
        # Data past the limit must raise; a line longer than the limit may (if it is ever left open).
        assert expected.largest_data > limit or expected.longest_line > limit
        return
    assert expected.largest_data <= limit
    assert (events, parser.reconnection_time, parser.last_event_id) == expected[:3]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"data:x: y", "x: y"),  # the name ends at the first colon, even before a ": "
        (b"data:x", "x"),
        (b"data", ""),  # no colon: all name, empty value
        (b"data:  x", " x"),  # one space stripped, not two
    ],
)
def test_field_name_ends_at_the_first_colon(line: bytes, expected: str) -> None:
    events, _ = parse(line + b"\n\n")
    assert [e.data for e in events] == [expected]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (b"id:x: y\ndata\n", ServerSentEvent(data="", id="x: y")),
        (b"id:x\x00y\ndata\n", ServerSentEvent(data="")),  # an id with NUL is ignored in this form too
        (b"event:x: y\ndata\n", ServerSentEvent(data="", event="x: y")),
        (b":x: y\n", ServerSentEvent(comments="x: y")),
        (b"retry:15\n", ServerSentEvent(retry=15)),
        (b"data:\ndata::\n", ServerSentEvent(data="\n:")),
        (b"data :x\ndata\n", ServerSentEvent(data="")),  # "data " is another name
    ],
)
def test_every_field_name_ends_at_the_first_colon(lines: bytes, expected: ServerSentEvent) -> None:
    events, _ = parse(lines + b"\n")
    assert events == [expected]


def test_the_limit_holds_for_an_event_spread_over_many_small_chunks() -> None:
    parser = SSEParser(max_event_size=1000)
    with pytest.raises(SSEEventTooLargeError, match="max_event_size=1000"):
        for _ in range(30):
            parser.feed(b"data: " + b"q" * 40 + b"\n")  # each chunk alone is far under the limit
    assert SSEParser(max_event_size=1000).feed(b"data: " + b"q" * 40 + b"\n" * 2)[0].data == "q" * 40


def test_the_limit_counts_each_data_line_once_however_the_events_are_chunked() -> None:
    # By the limit's count (each data line plus one) the first event holds 20 bytes, the second 100.
    raw = b"data: 123456789\n" * 2 + b"id: 1\n\n" + b"data: 123456789\n" * 10 + b"event: e\n\n"
    expected = [
        ServerSentEvent(data="123456789\n123456789", id="1"),
        ServerSentEvent("\n".join(["123456789"] * 10), "e", "1"),
    ]
    for size in range(1, len(raw) + 1):  # events and lines open across every kind of chunk boundary
        chunks = [raw[i : i + size] for i in range(0, len(raw), size)]
        assert parse(*chunks, max_event_size=100)[0] == expected, size
        with pytest.raises(SSEEventTooLargeError, match="max_event_size=99"):
            parse(*chunks, max_event_size=99)
