"""A short run of the whole benchmark (``python -m bench.run``) on the real services,
so the harness cannot rot: every row is there, every ratio is a number, and the run
leaves no index, template or Redis key behind. No figure is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import redis
from elasticsearch import Elasticsearch

from bench.harness import BENCH_INDEX_PREFIX, ROOT, bench_redis_url
from common.config import Settings

ROWS_WITH_RATIO = (
    "End to end",
    "Drain",
    "API alone",
    "Single-log POST",
    "RSS worker, end to end",
    "RSS worker, drain",
    "RSS gunicorn, end to end",
    "RSS gunicorn, API alone + single",
)
ROWS_WITHOUT_RATIO = ("ES ceiling", "Redis ceiling", "GET /health")


def _rows(markdown: str) -> dict[str, list[str]]:
    rows = {}
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 6 and cells[0] != "measure":
            rows[cells[0]] = cells
    return rows


def test_a_tiny_run_prints_and_writes_every_row(
    tmp_path: Path, es: Elasticsearch, base_settings: Settings
) -> None:
    output = tmp_path / "BENCHMARKS.md"
    sizes = ["--logs", "300", "--batch", "100", "--single-requests", "50", "--clients", "2"]
    where = ["--output", str(output), "--section", "Smoke"]
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", *sizes, "--pause", "0", "--timeout", "120", *where],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    written = output.read_text(encoding="utf-8")
    assert written.startswith("# Benchmarks") and "\n## Smoke\n" in written
    for label in ("cores", "CPU", "Python", "Redis", "Elasticsearch", "gunicorn", "LOG_BATCH"):
        assert f"- {label}" in written
    rows = _rows(written)
    assert _rows(done.stdout) == rows
    for prefix in ROWS_WITH_RATIO + ROWS_WITHOUT_RATIO:
        found = [cells for measure, cells in rows.items() if measure.startswith(prefix)]
        assert found, f"no row {prefix!r} in\n{written}"
        for cells in found:
            if prefix in ROWS_WITH_RATIO:
                assert float(cells[3]) > 0, cells
                assert cells[5] in ("yes", "no"), cells

    run = re.search(r"bench run ([0-9a-f]+)", done.stdout)
    assert run, done.stdout
    leftovers = es.options(ignore_status=404).indices.get(
        index=f"{BENCH_INDEX_PREFIX}_{run[1]}-*", expand_wildcards="all"
    )
    assert not list(leftovers)
    templates = es.options(ignore_status=404).indices.get_index_template(
        name=f"{BENCH_INDEX_PREFIX}_{run[1]}-*"
    )
    assert not templates.get("index_templates")
    client = redis.Redis.from_url(bench_redis_url(base_settings.redis_url))
    try:
        assert not list(client.scan_iter(match=f"bench:{run[1]}:*", count=1000))
    finally:
        client.close()
