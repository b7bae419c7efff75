"""The engine's SimPy memory-port resources, each on its own (no engine around them)."""
from __future__ import annotations

import pytest
import simpy

from accelsim.engine import resources as R


def _run(env, port, jobs):
    """Start (start time, bytes, due offset or None) jobs; return their end times."""
    ends = {}

    def job(k, start, nbytes, due):
        yield env.timeout(start)
        yield port.transfer(nbytes, None if due is None else env.now + due)
        ends[k] = env.now

    for k, (start, nbytes, due) in enumerate(jobs):
        env.process(job(k, start, nbytes, due))
    env.run()
    return [ends[k] for k in range(len(jobs))]


def test_lone_uncapped_flow_takes_bytes_over_rate():
    env = R.Environment()
    assert _run(env, R.FairShareBandwidth(env, 64.0), [(0, 6400.0, None)]) == [100.0]


def test_lone_flow_with_a_due_time_ends_exactly_then():
    env = R.Environment()
    due = 1234.567890123  # slower than the port: capped at bytes / due
    assert _run(env, R.FairShareBandwidth(env, 64.0), [(7.25, 6400.0, due)]) == [7.25 + due]


def test_two_equal_flows_share_equally():
    env = R.Environment()
    ends = _run(env, R.FairShareBandwidth(env, 10.0), [(0, 100.0, None), (0, 100.0, None)])
    assert ends == [pytest.approx(20.0), pytest.approx(20.0)]


def test_a_late_flow_gets_half_then_the_first_gets_all():
    env = R.Environment()
    # A alone 0..5 (50 B), then A and B at 5 B/tick each: A's last 50 B end at 15; B has moved
    # 50 B by then and its last 50 B go at the full rate: 20.
    ends = _run(env, R.FairShareBandwidth(env, 10.0), [(0, 100.0, None), (5, 100.0, None)])
    assert ends == [pytest.approx(15.0), pytest.approx(20.0)]


def test_max_min_fairness_gives_a_capped_flow_its_cap():
    env = R.Environment()
    # flow 0 wants 2 B/tick (200 B over 100 ticks); flow 1 uncapped gets the other 8
    port = R.FairShareBandwidth(env, 10.0)
    ends = _run(env, port, [(0, 200.0, 100.0), (0, 400.0, None)])
    assert ends[0] == 100.0            # never slowed: exactly its due time
    assert ends[1] == pytest.approx(50.0)


def test_oversubscribed_capped_flows_are_slowed():
    env = R.Environment()
    # two flows that each want 8 of 10 B/tick: each gets 5
    ends = _run(env, R.FairShareBandwidth(env, 10.0), [(0, 800.0, 100.0), (0, 800.0, 100.0)])
    assert ends == [pytest.approx(160.0), pytest.approx(160.0)]


def test_water_fill():
    assert R.water_fill([1.0, 10.0, 10.0], 9.0) == [1.0, 4.0, 4.0]
    assert R.water_fill([1.0, 2.0], 9.0) == [1.0, 2.0]
    assert R.water_fill([], 5.0) == []


def test_allocation_is_visible_and_sums_to_at_most_the_rate():
    env = R.Environment()
    port = R.FairShareBandwidth(env, 10.0)
    seen = []

    def probe():
        yield env.timeout(1)
        seen.append(sorted(port.allocation().values()))

    port.transfer(100.0, 50.0)   # 2 B/tick
    port.transfer(1000.0)        # the rest
    env.process(probe())
    env.run()
    assert seen == [[2.0, 8.0]]


def test_fair_share_works_on_a_plain_simpy_environment():
    env = simpy.Environment()
    assert _run(env, R.FairShareBandwidth(env, 64.0), [(0, 6400.0, None)]) == [100.0]


def test_bad_rates_and_sizes_are_errors():
    env = R.Environment()
    for rate in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError):
            R.FairShareBandwidth(env, rate)
        with pytest.raises(ValueError):
            R.FifoBandwidth(env, rate)
    with pytest.raises(ValueError):
        R.FairShareBandwidth(env, 1.0).transfer(0.0)


def test_fifo_serves_whole_transfers_in_request_order():
    env = R.Environment()
    port = R.FifoBandwidth(env, 10.0)
    ends = {}

    def job(k, start, nbytes):
        yield env.timeout(start)
        yield from port.transfer(nbytes)
        ends[k] = env.now

    for k, (start, nbytes) in enumerate([(0, 100.0), (1, 50.0), (2, 10.0)]):
        env.process(job(k, start, nbytes))
    env.run()
    assert ends == {0: 10.0, 1: 15.0, 2: 16.0}


def test_wait_until_is_exact_on_the_engine_environment():
    env = R.Environment()
    when = 0.1 + 0.2  # 0.30000000000000004: not reachable as 0.1 + (when - 0.1) in general
    seen = []

    def proc():
        yield env.timeout(0.1)
        yield R.wait_until(env, when)
        seen.append(env.now)

    env.process(proc())
    env.run()
    assert seen == [when]
