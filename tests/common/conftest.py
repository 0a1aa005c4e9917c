"""Fixtures of tests/common: the OTLP export the OpenTelemetry SDK itself makes."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from common.otlp import logs_from_otlp
from tests.common.otlp_payloads import API_TIME_NS, otlp_json


@pytest.fixture(scope="module")
def sdk_export() -> Iterator[dict[str, Any]]:
    """Three records, as the SDK's OTLP exporter encodes them, in proto3 JSON; plus ids."""
    exporter = InMemoryLogRecordExporter()
    resource = Resource.create(
        {"service.name": "checkout", "deployment.environment": "staging", "host.name": "web-1"}
    )
    provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    tracer = TracerProvider(shutdown_on_exit=False).get_tracer("tests")
    logger = provider.get_logger("checkout.payments", "1.2.3")
    with warnings.catch_warnings():  # the SDK's bridge is deprecated in favour of a contrib one
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(logger_provider=provider)
    stdlib = logging.getLogger("checkout.std")
    stdlib.addHandler(handler)
    stdlib.propagate = False
    try:
        with tracer.start_as_current_span("pay") as span:
            logger.emit(
                timestamp=API_TIME_NS,
                severity_number=SeverityNumber.WARN,
                severity_text="WARN",
                body="card declined",
                attributes={"order.id": 42, "amount": 9.5, "retry": True, "items": ["a", "b"]},
            )
            stdlib.error("payment %s failed", "p-1", extra={"customer": "c-9"})
        logger.emit(body={"k": [1, 2], "n": None, "é": "ü"}, event_name="payment.audit")
    finally:
        stdlib.removeHandler(handler)
        stdlib.propagate = True
    request = encode_logs(exporter.get_finished_logs())
    payload = MessageToDict(request, use_integers_for_enums=True)  # OTLP: enums as integers
    context = span.get_span_context()
    payload["_ids"] = (format(context.trace_id, "032x"), format(context.span_id, "016x"))
    yield payload


@pytest.fixture(scope="module")
def sdk_logs(sdk_export: dict[str, Any]) -> list[dict[str, Any]]:
    return logs_from_otlp(otlp_json(sdk_export))
