"""The benchmark report: rows compared with their targets, and BENCHMARKS.md sections."""

from __future__ import annotations

from pathlib import Path

from bench.memory import Track
from bench.report import HEADER, Row, compared, memory_rows, table, write_section


def test_a_ratio_meets_its_target_or_not() -> None:
    assert compared("e2e", "1 logs/s", "ES ceiling", 0.9, 0.85).met == "yes"
    assert compared("e2e", "1 logs/s", "ES ceiling", 0.5, 0.85).met == "no"


def test_rss_is_flat_unless_it_grows_past_the_slack() -> None:
    flat = Track("worker, drain", 1, [(t, 50_000) for t in range(8)] + [(9, 51_000)], 52_000)
    growing = Track("worker, drain", 2, [(t, 50_000 + t * 2_000) for t in range(10)], 70_000)
    rows = memory_rows([flat, growing])
    assert [row.met for row in rows] == ["yes", "no"]
    assert "| RSS worker, drain (pid 1) |" in table(rows)


def test_a_section_is_appended_then_replaced_in_place(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    write_section(path, "Baseline", "## Baseline\n\nrun one\n")
    write_section(path, "After", "## After\n\nlater\n")
    write_section(path, "Baseline", "## Baseline\n\nrun two\n")
    text = path.read_text(encoding="utf-8")
    assert text.startswith(HEADER.splitlines()[0])
    assert "run one" not in text
    assert text.index("run two") < text.index("## After") < text.index("later")
    assert table([Row("m", "r")]).count("\n") == 2
