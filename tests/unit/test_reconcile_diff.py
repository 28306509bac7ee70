"""The reconciliation's diff: missing, extra and differing rows, float tolerance, skipped keys."""

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


def test_diff_skips_keys_it_cannot_judge():
    result = diff("t", {("a", 1): (1,)}, {("a", 1): (2,)}, skip=lambda key: key[0] == "a")
    assert result.ok and result.skipped == 1 and result.compared == 0


def test_a_float_against_none_differs():
    assert not diff("t", {1: (None,)}, {1: (0.0,)}).ok
