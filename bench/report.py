"""The results table, the machine facts, and the section of BENCHMARKS.md (pure but
for ``machine_facts``, which asks the system and the services)."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import redis
from elasticsearch import Elasticsearch

from bench.harness import ROOT
from bench.load import LoadResult
from bench.memory import Track
from bench.phases import Rate

CLIENT_PACKAGES = (
    "flask",
    "gunicorn",
    "redis",
    "hiredis",
    "elasticsearch",
    "orjson",
    "marshmallow",
)
# RSS may grow this much from warm-up to the end and still count as flat.
FLAT_RATIO = 1.05
FLAT_SLACK_MIB = 2.0

HEADER = """# Benchmarks

`make bench` (`python -m bench.run --help` for the sizes) runs the real API under gunicorn,
real `manage.py worker` processes, the local Redis and Elasticsearch, on a generated workload
(fixed seed: messages from one line to stack traces, 5-15 context fields, 8 services, weighted
levels; ~0.8 KB a log) and measures in one run:

- **ES ceiling**: the same documents (built by the worker's own `bulk_body`) bulk-indexed
  directly with the client, batches of `LOG_BATCH_SIZE`, into an index of the real template
  with `refresh_interval: -1`; the clock stops when a `_refresh` + `_count` finds all of them.
  Measured first and again after the drain; the better of the two is the reference.
- **End to end**: JSON-array batches POSTed by concurrent keep-alive clients → gunicorn →
  stream → worker(s) → searchable (same index settings, same final refresh + count).
  gunicorn's `sync` workers close the connection after every response, so the clients
  reconnect for each request: that cost is part of every HTTP figure.
- **Drain**: a stream pre-filled with the same logs → worker(s) → searchable; the clock starts
  when the first worker joins the group (process start-up excluded).
- **API alone**: the same batches into the stream with no worker, against the **Redis ceiling**:
  the same entries XADDed by one pipelined client, one batch per round trip.
- **Single-log POST** against **GET /health** (the trivial endpoint), same gunicorn, same clients,
  alternating in two rounds so that noise from elsewhere falls on both.
- **RSS**: VmRSS/VmHWM of each process sampled every 0.2 s; *warm* is the sample a quarter of
  the way into the phase, *end* the last; flat = end ≤ 1.05 x warm (or within 2 MiB).

Targets (as ratios): end to end ≥ 0.85 x ES ceiling; drain ≥ 0.95 x ES ceiling; API alone ≥ 0.5
x Redis ceiling; single-log ≥ 0.7 x GET /health; worker RSS flat. The machine is shared and
noisy: compare ratios from one run, not figures across runs.
"""


@dataclass(frozen=True)
class Row:
    measure: str
    result: str
    reference: str = "—"
    ratio: float | None = None
    target: str = "—"
    met: str = "—"


def compared(measure: str, result: str, reference: str, ratio: float, minimum: float) -> Row:
    met = "yes" if ratio >= minimum else "no"
    return Row(measure, result, reference, ratio, f"≥ {minimum}", met)


def _rate(rate: Rate, unit: str) -> str:
    return f"{rate.per_second:,.0f} {unit}/s ({rate.count:,} in {rate.seconds:.1f} s)"


def _latency(result: LoadResult) -> str:
    return (
        f"{result.per_second:,.0f} req/s, p50 {result.percentile(0.5):.1f} ms,"
        f" p99 {result.percentile(0.99):.1f} ms"
    )


def memory_rows(tracks: list[Track]) -> list[Row]:
    found = []
    for track in tracks:
        if not track.samples:
            continue
        warm = track.samples[len(track.samples) // 4][1] / 1024
        end = track.samples[-1][1] / 1024
        flat = end <= max(warm * FLAT_RATIO, warm + FLAT_SLACK_MIB)
        found.append(
            Row(
                f"RSS {track.label} (pid {track.pid})",
                f"peak {track.peak_kib / 1024:.1f} MiB; warm {warm:.1f} → end {end:.1f} MiB"
                f" ({len(track.samples)} samples)",
                "warm RSS",
                end / warm,
                "flat",
                "yes" if flat else "no",
            )
        )
    return found


def rows(
    ceilings: list[Rate],
    end_to_end: Rate,
    drain: Rate,
    api: Rate,
    redis_ceiling: Rate,
    single: LoadResult,
    trivial: LoadResult,
    tracks: list[Track],
    sizes: dict[str, int],
) -> list[Row]:
    ceiling = max(ceilings, key=lambda rate: rate.per_second)
    es, batch, clients = ceiling.per_second, sizes["batch"], sizes["clients"]
    each = ", ".join(f"{rate.per_second:,.0f}" for rate in ceilings)
    return [
        Row(
            f"ES ceiling: direct bulk, {sizes['worker_batch']}/request",
            f"{_rate(ceiling, 'docs')}; best of {each}",
        ),
        compared(
            "End to end: HTTP → worker → searchable",
            _rate(end_to_end, "logs"),
            "ES ceiling",
            end_to_end.per_second / es,
            0.85,
        ),
        compared(
            "Drain: pre-filled stream → searchable",
            _rate(drain, "logs"),
            "ES ceiling",
            drain.per_second / es,
            0.95,
        ),
        Row(f"Redis ceiling: pipelined XADD, {batch}/trip", _rate(redis_ceiling, "logs")),
        compared(
            f"API alone: HTTP batches of {batch} → stream",
            _rate(api, "logs"),
            "Redis ceiling",
            api.per_second / redis_ceiling.per_second,
            0.5,
        ),
        Row(f"GET /health, {clients} clients", _latency(trivial)),
        compared(
            f"Single-log POST, {clients} clients",
            _latency(single),
            "GET /health",
            single.per_second / trivial.per_second,
            0.7,
        ),
        *memory_rows(tracks),
    ]


def table(found: list[Row]) -> str:
    lines = [
        "| measure | result | reference | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for row in found:
        ratio = "—" if row.ratio is None else f"{row.ratio:.2f}"
        cells = (row.measure, row.result, row.reference, ratio, row.target, row.met)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _first(path: str, prefix: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def _memory() -> str:
    total = _first("/proc/meminfo", "MemTotal").split()[0]
    return f"{int(total) / 2**20:.1f} GiB" if total.isdigit() else "?"


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def machine_facts(es: Elasticsearch, client: redis.Redis, config: dict[str, str]) -> dict[str, str]:
    nodes = es.nodes.info(node_id="_local", metric="jvm")["nodes"]
    node = next(iter(nodes.values()))
    heap = node["jvm"]["mem"]["heap_max_in_bytes"] / 2**20
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "commit": commit or "?",
        "cores": f"{os.cpu_count()} (usable: {len(os.sched_getaffinity(0))})",
        "CPU": _first("/proc/cpuinfo", "model name"),
        "memory": _memory(),
        "load average (1, 5, 15 min) at start": load_average(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Redis": str(client.info("server")["redis_version"]),
        "Elasticsearch": f"{node['version']} (heap {heap:.0f} MiB, JVM {node['jvm']['version']})",
        "packages": ", ".join(f"{name} {metadata.version(name)}" for name in CLIENT_PACKAGES),
        **config,
    }


def section(title: str, found: list[Row], facts: dict[str, str]) -> str:
    listed = "\n".join(f"- {name}: {value}" for name, value in facts.items())
    return f"## {title}\n\n{table(found)}\n\n{listed}\n"


def write_section(path: Path, title: str, body: str) -> None:
    """Create the file with its header, or replace the section ``## title`` (or append it)."""
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _match: body + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
