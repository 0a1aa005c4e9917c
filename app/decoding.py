"""From request bytes to a list of log payloads (pure code, no Flask).

Handles the content encodings (gzip, deflate, zstd — inflated with a hard cap,
so a compression bomb is refused before it is expanded) and the forms: one JSON
object, a JSON array of objects, or NDJSON (one object a line). Every refusal is
a ``Refused`` carrying the status, code and a message that says where.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson
import zstandard

JSON_TYPES = ("application/json",)
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


@dataclass
class Parsed:
    """Payloads in request order; ``batch`` is False for a single JSON object.
    ``line_errors`` holds NDJSON lines that were not JSON (index → error)."""

    items: list[Any]
    batch: bool
    line_errors: dict[int, dict[str, Any]] = field(default_factory=dict)


def _too_large(limit: int) -> Refused:
    return Refused(413, "payload_too_large", f"Decompressed body exceeds {limit} bytes.")


def _inflate_zlib(body: bytes, wbits: int, limit: int) -> bytes:
    out = bytearray()
    data = body
    while data:
        engine = zlib.decompressobj(wbits)
        try:
            while data:
                out += engine.decompress(data, limit + 1 - len(out))
                if len(out) > limit:
                    raise _too_large(limit)
                data = engine.unconsumed_tail
        except zlib.error as exc:
            message = f"Body is not valid {_name(wbits)}: {exc}"
            raise Refused(400, "invalid_encoding", message) from None
        if not engine.eof:
            raise Refused(400, "invalid_encoding", f"Truncated {_name(wbits)} body.")
        data = engine.unused_data  # a gzip body may hold several members
    return bytes(out)


def _name(wbits: int) -> str:
    return "gzip" if wbits > 15 else "deflate"


def _inflate_zstd(body: bytes, limit: int) -> bytes:
    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body)) as reader:
            out = reader.read(limit + 1)
    except zstandard.ZstdError as exc:
        raise Refused(400, "invalid_encoding", f"Body is not valid zstd: {exc}") from None
    if len(out) > limit:
        raise _too_large(limit)
    return out


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """Undo ``Content-Encoding``; never produces more than ``limit`` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return _inflate_zlib(body, 16 + zlib.MAX_WBITS, limit)
    if encoding == "deflate":
        return _inflate_zlib(body, zlib.MAX_WBITS, limit)
    if encoding == "zstd":
        return _inflate_zstd(body, limit)
    raise Refused(
        415, "unsupported_encoding", f"Content-Encoding {encoding!r}: use gzip, deflate or zstd."
    )


def _json_error(body: bytes, exc: orjson.JSONDecodeError) -> dict[str, Any]:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as bad:
        return {
            "code": "invalid_utf8",
            "message": f"Body is not valid UTF-8 (byte {bad.start}).",
            "details": {"position": bad.start},
        }
    return {
        "code": "malformed_json",
        "message": f"Body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
        "details": {"position": exc.pos, "line": exc.lineno, "column": exc.colno},
    }


def _parse_json(body: bytes, max_batch: int) -> Parsed:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        error = _json_error(body, exc)
        raise Refused(400, error["code"], error["message"], error["details"]) from None
    if isinstance(value, list):
        if len(value) > max_batch:
            raise Refused(413, "batch_too_large", f"More than {max_batch} logs in one request.")
        return Parsed(value, batch=True)
    return Parsed([value], batch=False)


def _parse_ndjson(body: bytes, max_batch: int) -> Parsed:
    parsed = Parsed([], batch=True)
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        if len(parsed.items) >= max_batch:
            raise Refused(413, "batch_too_large", f"More than {max_batch} logs in one request.")
        try:
            parsed.items.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            error = _json_error(line, exc)
            error["message"] = f"Line {number}: {error['message']}"
            error["details"]["line"] = number
            parsed.line_errors[len(parsed.items)] = error
            parsed.items.append(None)
    return parsed


def parse(body: bytes, mimetype: str, max_batch: int) -> Parsed:
    """Logs in the body, by media type; ``Refused`` for what cannot be read at all."""
    if mimetype in JSON_TYPES or mimetype.endswith("+json"):
        parsed = _parse_json(body, max_batch)
    elif mimetype in NDJSON_TYPES:
        parsed = _parse_ndjson(body, max_batch)
    else:
        raise Refused(
            415,
            "unsupported_media_type",
            "Send logs as application/json (an object or an array) or application/x-ndjson.",
        )
    if parsed.batch and not parsed.items:
        raise Refused(400, "empty_batch", "The request holds no logs.")
    return parsed
