"""Properties of normalization (pure: no services), checked with Hypothesis.

Timestamps keep their UTC instant through every accepted form and come out in one
canonical format; levels fold to their canonical name in any casing; ids are kept
verbatim or refused; the canonical form re-checks and re-normalizes to itself;
and no input makes ``normalize`` raise anything but ``ValidationError``.

``EDGE_INPUTS`` are inputs a fuzz run once found mishandled.
"""

from __future__ import annotations

import contextlib
import re
import string
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, example, given
from hypothesis import settings as run_with
from hypothesis import strategies as st
from marshmallow import ValidationError
from ulid import ULID

from common.limits import Limits
from common.schema import (
    EPOCH_MS_MAX,
    ID_PATTERN,
    LEVEL_ALIASES,
    LEVELS,
    LogSchema,
    load_stored,
    new_log_id,
    normalize,
)

CANONICAL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 4, 19, 0, 0, 123456, tzinfo=UTC)
ID_ALPHABET = string.ascii_letters + string.digits + "._:-"
REQUIRED = {"level": "info", "service": "checkout", "message": "m"}

# Same cases every run, nothing saved between runs.
PROPERTY = run_with(derandomize=True, database=None, max_examples=300)


def _normalize(payload: object) -> dict[str, Any]:
    return normalize(payload, now=lambda: NOW, limits=Limits())


def _timestamp(value: object) -> str:
    return str(_normalize({**REQUIRED, "timestamp": value})["timestamp"])


def _instant(canonical: str) -> datetime:
    return datetime.strptime(canonical, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


# --- Strategies ---

# RFC 3339 offsets are whole minutes, less than a day either way.
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
# A day's margin at both ends keeps every local time representable whatever the offset.
instants = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
epoch_ms = st.integers(0, EPOCH_MS_MAX)


def _any_case(word: str) -> st.SearchStrategy[str]:
    return st.tuples(*(st.sampled_from([c.lower(), c.upper()]) for c in word)).map("".join)


LEVEL_NAMES = {**{level: level for level in LEVELS}, **LEVEL_ALIASES}
level_spellings = st.sampled_from(sorted(LEVEL_NAMES)).flatmap(
    lambda name: st.tuples(st.just(LEVEL_NAMES[name]), _any_case(name))
)

# JSON as the API hands it to ``normalize``: what survives an orjson round trip.
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
).map(lambda value: orjson.loads(orjson.dumps(value)))
not_blank = st.text(min_size=1, max_size=50).filter(str.strip)
timestamps = (
    st.builds(lambda moment, tz: moment.astimezone(tz).isoformat(), instants, offsets)
    | epoch_ms
    | epoch_ms.map(str)
)
valid_logs = st.fixed_dictionaries(
    {
        "level": level_spellings.map(lambda pair: pair[1]),
        "service": not_blank,
        "message": not_blank,
    },
    optional={
        "id": st.text(ID_ALPHABET, min_size=1, max_size=128),
        "timestamp": timestamps,
        "environment": not_blank,
        "host": not_blank,
        "trace_id": not_blank,
        "span_id": not_blank,
        "request_id": not_blank,
        "tags": st.lists(st.text(min_size=1, max_size=20), max_size=5),
        "context": st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    },
)
# Anything near the contract: its own field names (and others) holding any JSON,
# timestamp-like text in every script, and logs that are valid.
field_names = st.sampled_from([*LogSchema().fields, "received_at", "extra"])
timestamp_like = (
    st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=12)
    | st.builds(lambda moment, tz: moment.astimezone(tz).isoformat(), instants, offsets)
    | st.floats()
    | st.integers()
)
near_logs = st.dictionaries(field_names, json_values, max_size=8) | st.builds(
    lambda log, ts: {**log, "timestamp": ts}, valid_logs, timestamp_like
)
payloads = json_values | near_logs | valid_logs


# --- Timestamps ---


@run_with(PROPERTY)
@given(instants, offsets, st.sampled_from(["seconds", "milliseconds", "microseconds"]))
def test_rfc3339_with_any_offset_keeps_the_instant(moment, tz, precision):
    moment = moment.replace(microsecond=0) if precision == "seconds" else moment
    if precision == "milliseconds":
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    text = moment.astimezone(tz).isoformat(timespec=precision)
    canonical = _timestamp(text)
    assert CANONICAL_TIME.match(canonical)
    assert _instant(canonical) == moment
    # RFC 3339 allows lower-case separators, and Z for a zero offset
    assert _timestamp(text.lower()) == canonical
    assert _timestamp(moment.isoformat().replace("+00:00", "Z")) == _timestamp(moment.isoformat())


@run_with(PROPERTY)
@given(epoch_ms)
@example(0)
@example(EPOCH_MS_MAX)
def test_epoch_milliseconds_keep_the_instant(ms):
    canonical = _timestamp(ms)
    assert CANONICAL_TIME.match(canonical)
    assert _instant(canonical) == EPOCH + timedelta(milliseconds=ms)
    assert _timestamp(str(ms)) == canonical
    # the same instant as RFC 3339 text at any offset
    moment = EPOCH + timedelta(milliseconds=ms)
    assert _timestamp(moment.isoformat(timespec="milliseconds")) == canonical


@run_with(PROPERTY)
@given(st.integers(max_value=-1) | st.integers(min_value=EPOCH_MS_MAX + 1))
def test_epoch_milliseconds_out_of_range_are_refused(ms):
    with pytest.raises(ValidationError):
        _timestamp(ms)


@run_with(PROPERTY)
@given(instants, offsets)
def test_timestamps_without_an_offset_are_refused(moment, tz):
    with pytest.raises(ValidationError):
        _timestamp(moment.astimezone(tz).replace(tzinfo=None).isoformat())


# --- Levels ---


@run_with(PROPERTY)
@given(level_spellings)
def test_any_casing_of_a_level_or_alias_is_its_canonical_name(pair):
    canonical, spelling = pair
    assert _normalize({**REQUIRED, "level": spelling})["level"] == canonical
    # surrounding blanks are forgiven
    assert _normalize({**REQUIRED, "level": f" {spelling}\t"})["level"] == canonical


@run_with(PROPERTY)
@given(
    st.text(max_size=12)
    | level_spellings.flatmap(
        lambda pair: st.sampled_from([pair[1] + "s", pair[1][1:], "x" + pair[1]])
    )
)
def test_any_other_level_is_refused(text):
    assume(text.strip().lower() not in LEVEL_NAMES)
    with pytest.raises(ValidationError) as refused:
        _normalize({**REQUIRED, "level": text})
    assert set(refused.value.messages) == {"level"}


# --- Ids ---


@run_with(PROPERTY)
@given(st.text(ID_ALPHABET, min_size=1, max_size=128))
def test_an_id_from_the_alphabet_is_kept_verbatim(log_id):
    assert _normalize({**REQUIRED, "id": log_id})["id"] == log_id


@run_with(PROPERTY)
@given(
    st.text(max_size=130).filter(lambda s: not re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", s))
    | st.text(ID_ALPHABET, min_size=129, max_size=200)
    | st.tuples(
        st.text(ID_ALPHABET, max_size=20),
        st.characters().filter(lambda c: c not in ID_ALPHABET),
        st.text(ID_ALPHABET, max_size=20),
    ).map("".join)
)
def test_any_other_id_is_refused(log_id):
    with pytest.raises(ValidationError) as refused:
        _normalize({**REQUIRED, "id": log_id})
    assert set(refused.value.messages) == {"id"}


def test_generated_ids_are_unique_and_carry_their_time():
    before = int(time.time() * 1000)
    ids = [new_log_id() for _ in range(2000)]
    after = int(time.time() * 1000)
    assert len(set(ids)) == len(ids)
    assert all(ID_PATTERN.match(log_id) for log_id in ids)
    assert all(before <= ULID.from_str(log_id).milliseconds <= after for log_id in ids)


@run_with(PROPERTY)
@given(
    st.integers(0, 2**48 - 2).flatmap(
        lambda t: st.tuples(st.just(t), st.integers(t + 1, 2**48 - 1))
    )
)
def test_ids_sort_by_time(times):
    earlier, later = (str(ULID.from_timestamp(ms / 1000)) for ms in times)
    assert earlier < later


# --- The canonical form ---


@run_with(PROPERTY, suppress_health_check=[HealthCheck.too_slow])
@given(valid_logs)
def test_canonical_form_checks_and_normalizes_to_itself(payload):
    canonical = _normalize(payload)
    assert CANONICAL_TIME.match(canonical["timestamp"])
    assert canonical["level"] in LEVELS
    # as the worker reads it back from the stream
    assert load_stored(orjson.loads(orjson.dumps(canonical))) == canonical
    again = {k: v for k, v in canonical.items() if k != "received_at"}
    assert _normalize(again) == canonical


@run_with(PROPERTY, max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(payloads)
def test_no_input_raises_anything_but_validation_error(payload):
    with contextlib.suppress(ValidationError):
        _normalize(payload)


# --- Inputs the fuzzer and these properties once found mishandled (500s, or a 202
# the worker then refused); each is now refused cleanly or kept exactly. ---

EDGE_INPUTS = [
    pytest.param({"timestamp": "²"}, id="timestamp-non-ascii-digits"),
    pytest.param({"timestamp": "1" * 5000}, id="timestamp-over-4300-digits"),
    pytest.param({"timestamp": "9999-12-31T23:59:59-01:00"}, id="timestamp-utc-after-9999"),
    pytest.param({"timestamp": "0001-01-01T00:00:00+01:00"}, id="timestamp-utc-before-year-1"),
    pytest.param({"id": "order-42\n"}, id="id-with-a-final-newline"),
]


@pytest.mark.parametrize("fields", EDGE_INPUTS)
def test_edge_input_is_refused_as_invalid(fields):
    with pytest.raises(ValidationError):
        _normalize({**REQUIRED, **fields})


def test_years_before_1000_are_canonical():
    canonical = _normalize({**REQUIRED, "timestamp": "0999-01-01T00:00:00Z"})
    assert canonical["timestamp"] == "0999-01-01T00:00:00.000000Z"
    assert load_stored(canonical) == canonical


def test_epoch_milliseconds_after_2242_keep_the_instant():
    assert _timestamp(EPOCH_MS_MAX) == "9999-12-31T23:59:59.999000Z"


# --- The fast path of normalize() and the schema agree ---


@run_with(PROPERTY, max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(near_logs | valid_logs)
def test_fast_path_agrees_with_the_schema(payload):
    from common.schema import _fast_load

    fast = _fast_load(payload)
    try:
        expected = LogSchema().load(payload)
    except ValidationError:
        assert fast is None
        return
    assert fast is None or fast == expected


@run_with(PROPERTY)
@given(valid_logs)
def test_fast_path_takes_ordinary_valid_logs(payload):
    from common.schema import _fast_load

    assume(all(not isinstance(payload.get(k), tuple) for k in ("tags",)))
    assert _fast_load(payload) == LogSchema().load(payload)
