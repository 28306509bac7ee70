"""The reconciliation's diff: missing, extra and differing rows, float tolerance, nothing skipped."""

from __future__ import annotations

from flink_jobs.reconcile import diff


def test_diff_reports_missing_extra_and_differing_rows():
    want = {("a", 1): (3, 0.5), ("b", 1): (1, None), ("c", 1): (2, 1.0)}
    got = {("a", 1): (3, 0.5 + 1e-12), ("b", 1): (2, None), ("d", 1): (1, 1.0)}
    result = diff("t", want, got)
    assert not result.ok
    assert result.compared == 4
    assert result.missing == [(("c", 1), (2, 1.0))]
    assert result.extra == [(("d", 1), (1, 1.0))]
    assert result.differing == [(("b", 1), (1, None), (2, None))]


def test_diff_compares_every_key_of_either_side():
    result = diff("t", {("a", 1): (1,), ("b", 1): (1,)}, {("a", 1): (2,), ("c", 1): (1,)})
    assert result.compared == 3 and result.skipped == 0
    assert len(result.missing) == len(result.extra) == len(result.differing) == 1


def test_a_float_against_none_differs():
    assert not diff("t", {1: (None,)}, {1: (0.0,)}).ok
