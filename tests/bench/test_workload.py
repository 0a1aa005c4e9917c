"""The benchmark's workload: deterministic, varied, and valid under the log contract."""

from __future__ import annotations

from collections import Counter

from bench.workload import SERVICES, logs
from common.schema import normalize


def test_the_same_seed_gives_the_same_logs_and_another_seed_others() -> None:
    assert logs(200, seed=7) == logs(200, seed=7)
    assert logs(200, seed=7) != logs(200, seed=8)


def test_logs_are_varied_like_production_and_all_valid() -> None:
    sample = logs(2000)
    lengths = sorted(len(log["message"]) for log in sample)
    assert lengths[0] < 60 and lengths[-1] > 1000
    assert {len(log["context"]) for log in sample} == set(range(5, 16))
    assert set(Counter(log["service"] for log in sample)) == set(SERVICES)
    levels = Counter(normalize(log)["level"] for log in sample)
    assert levels.most_common(1)[0][0] == "info" and len(levels) == 6
    assert len({log["id"] for log in sample}) == len(sample)
