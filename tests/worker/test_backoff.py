import random

from worker.backoff import Backoff


def test_backoff_grows_is_capped_and_resets():
    backoff = Backoff(base=1, cap=8, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    assert all(0.5 <= d <= 1 for d in delays[:1])
    assert all(d <= 8 for d in delays)
    assert max(delays[4:]) >= 4
    backoff.reset()
    assert backoff.next_delay() <= 1
