"""``python -m bench.run``: measure, print the table, write it to BENCHMARKS.md.

The section (``--section``, default "Baseline") is replaced if the file has it and
appended otherwise, so before/after runs sit side by side. Everything the run made
(indices, templates, Redis keys, the temporary folder) is removed at the end, even
when a phase fails; a failure exits 1 and names the folder holding the processes'
stderr (kept then).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
import redis

from bench import report
from bench.harness import BenchError, bench_redis_url, cleanup, gunicorn_config
from bench.memory import RssSampler
from bench.phases import Bench, Options
from common.config import load_settings
from common.elastic import make_elasticsearch

T = TypeVar("T")


@click.command()
@click.option("--logs", "count", default=100_000, show_default=True, type=click.IntRange(1))
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 1000))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 16))
@click.option("--clients", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--single-requests", default=5000, show_default=True, type=click.IntRange(1))
@click.option("--worker-batch", type=click.IntRange(1), help="LOG_BATCH_SIZE [environment's]")
@click.option("--api-workers", type=click.IntRange(1), help="gunicorn workers [gunicorn.conf.py]")
@click.option("--seed", default=42, show_default=True)
@click.option("--timeout", default=600.0, show_default=True, help="Seconds, per phase.")
@click.option("--pause", default=3.0, show_default=True, help="Seconds between phases.")
@click.option(
    "--output", default="BENCHMARKS.md", show_default=True, type=click.Path(path_type=Path)
)
@click.option("--section", default="Baseline", show_default=True)
def main(
    count: int,
    batch: int,
    workers: int,
    clients: int,
    single_requests: int,
    worker_batch: int | None,
    api_workers: int | None,
    seed: int,
    timeout: float,
    pause: float,
    output: Path,
    section: str,
) -> None:
    """Throughput, latency and memory of the pipeline on the real services."""
    base = load_settings()
    if worker_batch:
        base = base.with_overrides(batch_size=worker_batch)
    options = Options(batch, workers, clients, single_requests, api_workers, timeout, seed)
    run = uuid.uuid4().hex[:8]
    folder = Path(tempfile.mkdtemp(prefix=f"sfbench-{run}-"))
    es = make_elasticsearch(base.with_overrides(elasticsearch_timeout=120.0))
    client = redis.Redis.from_url(bench_redis_url(base.redis_url), socket_timeout=30)
    gunicorn = gunicorn_config(api_workers)
    config = {
        "gunicorn": f"{gunicorn.workers} workers, {gunicorn.worker_class}",
        "LOG_BATCH_SIZE (worker batch)": str(base.batch_size),
        "run": f"{count:,} logs, HTTP batches of {batch}, {workers} worker(s), {clients} "
        f"clients, {single_requests:,} single requests, seed {seed}",
    }
    facts = report.machine_facts(es, client, config)
    started = time.monotonic()
    click.echo(f"bench run {run}: {count:,} logs; stderr of the processes in {folder}")
    try:
        with RssSampler() as sampler:
            bench = Bench(base, run, folder, es, client, sampler, options, count)
            ceilings = [_phase("ES ceiling", bench.es_ceiling)]
            time.sleep(pause)
            end_to_end = _phase("end to end", bench.end_to_end)
            time.sleep(pause)
            drain = _phase("drain", bench.drain)
            time.sleep(pause)
            ceilings.append(_phase("ES ceiling again", lambda: bench.es_ceiling("ceiling2")))
            time.sleep(pause)
            api, single, trivial = _phase("API alone, single-log, /health", bench.api_phases)
            redis_ceiling = _phase("Redis ceiling", bench.redis_ceiling)
    except BenchError as exc:
        raise click.ClickException(f"{exc} (process logs kept in {folder})") from None
    finally:
        cleanup(es, client, run)
    shutil.rmtree(folder, ignore_errors=True)
    sizes = {"batch": batch, "clients": clients, "worker_batch": base.batch_size}
    tracks = list(sampler.tracks.values())
    found = report.rows(
        ceilings, end_to_end, drain, api, redis_ceiling, single, trivial, tracks, sizes
    )
    facts["load average at end"] = report.load_average()
    facts["bench duration"] = f"{time.monotonic() - started:.0f} s"
    click.echo(report.table(found))
    report.write_section(output, section, report.section(section, found, facts))
    click.echo(f"written to {output} (section {section!r})")


def _phase(name: str, measure: Callable[[], T]) -> T:
    click.echo(f"- {name} ...", nl=False)
    started = time.monotonic()
    result = measure()
    click.echo(f" {time.monotonic() - started:.1f} s")
    return result


if __name__ == "__main__":
    main()
