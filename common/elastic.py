"""The Elasticsearch adapter: client construction, the index template, bulk, health.

Transport failures and whole-request 429/5xx answers become
``ElasticsearchUnavailable`` here; a bulk request that reaches Elasticsearch
returns its per-item results for ``worker.outcome`` to classify. Probes use
``/_cluster/health`` (``GET /`` is not available on every distribution).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TransportError
from elasticsearch import ApiError, Elasticsearch

from common.config import Settings
from common.errors import ElasticsearchUnavailable
from common.index_template import index_template, lifecycle_policy

# Only what the worker needs from a bulk reply: smaller and faster to parse.
BULK_FILTER_PATH = "errors,items.*.status,items.*.error"


def make_elasticsearch(settings: Settings) -> Elasticsearch:
    return Elasticsearch(
        settings.elasticsearch_url,
        request_timeout=settings.elasticsearch_timeout,
        retry_on_timeout=False,
        max_retries=0,  # the worker owns retries, with backoff
    )


@contextmanager
def elasticsearch_errors_converted() -> Iterator[None]:
    """Connection errors, timeouts, 429 and 5xx → ``ElasticsearchUnavailable``."""
    try:
        yield
    except (TransportConnectionError, ConnectionTimeout) as exc:
        raise ElasticsearchUnavailable(f"{type(exc).__name__}: {exc}") from None
    except ApiError as exc:
        if exc.meta.status == 429 or exc.meta.status >= 500:
            raise ElasticsearchUnavailable(f"HTTP {exc.meta.status}: {exc}") from None
        raise
    except TransportError as exc:
        raise ElasticsearchUnavailable(f"{type(exc).__name__}: {exc}") from None


def install_index_template(
    client: Elasticsearch, settings: Settings, lifecycle: str | None = None
) -> None:
    """Create or update the template (idempotent). Daily indices pick it up at creation."""
    body = index_template(settings.index_pattern, settings.index_alias, lifecycle)
    with elasticsearch_errors_converted():
        client.indices.put_index_template(name=settings.template_name, **body)


def has_lifecycle_management(client: Elasticsearch) -> bool:
    """Whether the cluster has ILM (the default distribution does; minimal ones do not)."""
    with elasticsearch_errors_converted():
        try:
            client.perform_request("GET", "/_ilm/status", headers={"accept": "application/json"})
        except ApiError as exc:
            if exc.meta.status in (400, 404, 405):
                return False
            raise
    return True


def attach_lifecycle(client: Elasticsearch, settings: Settings, delete_after: str) -> str:
    """Install the ILM policy and a template that names it; returns the policy name."""
    name = settings.template_name
    with elasticsearch_errors_converted():
        client.perform_request(
            "PUT",
            f"/_ilm/policy/{name}",
            headers={"accept": "application/json", "content-type": "application/json"},
            body=lifecycle_policy(delete_after),
        )
    install_index_template(client, settings, lifecycle=name)
    return name


def bulk(client: Elasticsearch, body: bytes) -> list[dict[str, Any]]:
    """Send one NDJSON bulk body; returns the per-item results in request order."""
    with elasticsearch_errors_converted():
        # Pre-serialized NDJSON is sent as it is (the client passes bytes through).
        response = client.bulk(operations=body, filter_path=BULK_FILTER_PATH)  # type: ignore[arg-type]
    return [next(iter(item.values())) for item in response.get("items", [])]


def cluster_health(client: Elasticsearch, timeout: float = 2.0) -> dict[str, Any]:
    started = time.perf_counter()
    with elasticsearch_errors_converted():
        health = client.options(request_timeout=timeout).cluster.health()
    return {
        "cluster_status": health["status"],
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }
