"""The simulated store behaves as documented: deterministic, long-tailed, diurnal, consistent."""

from datetime import datetime, timezone

import numpy as np
import pytest

from generator import domain
from generator.catalog import Catalog
from generator.model import EventModel

T0 = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)


def _draw(seed: int, n: int = 20_000, t0: int = T0, catalog_seed: int = 1) -> tuple:
    catalog = Catalog.build(catalog_seed, 2000)
    return EventModel(catalog, seed).draw(t0 + np.arange(n, dtype=np.int64) * 10), catalog


def test_same_seed_same_events_other_seed_other_events():
    a, catalog = _draw(5)
    b, _ = _draw(5)
    c, _ = _draw(6)
    assert a.to_dicts(catalog)[:500] == b.to_dicts(catalog)[:500]
    assert a.to_dicts(catalog)[:500] != c.to_dicts(catalog)[:500]


def test_catalog_is_large_readable_and_deterministic():
    catalog = Catalog.build(9, 5000)
    assert len(set(catalog.content_id)) == 5000
    assert catalog.rows() == Catalog.build(9, 5000).rows()
    assert set(domain.CONTENT_TYPES) == {domain.CONTENT_TYPES[t] for t in catalog.content_type}
    assert all(title.strip() and not title.startswith("item") for title in catalog.title)


def test_popularity_is_zipf_like():
    """Top 1% of items draw far more than 1% of events; log-log rank/frequency slope near -1.1."""
    batch, catalog = _draw(7, n=200_000)
    counts = np.sort(np.bincount(batch.content, minlength=len(catalog)))[::-1]
    assert counts[: len(catalog) // 100].sum() / counts.sum() > 0.30
    ranks = np.arange(1, 51)
    slope = np.polyfit(np.log(ranks), np.log(counts[:50]), 1)[0]
    assert -1.5 < slope < -0.8, slope


def test_regions_follow_their_local_time_of_day():
    """At 02:00 UTC it is evening in the Americas and early morning in Japan; at 12:00 UTC the reverse."""
    model = EventModel(Catalog.build(1, 200), seed=1)
    at_02 = model.region_weights(T0 + 2 * 3_600_000)
    at_12 = model.region_weights(T0 + 12 * 3_600_000)
    us, jp = domain.REGION_CODES.index("US"), domain.REGION_CODES.index("JP")
    assert at_02[us] / at_12[us] > 2.5
    assert at_12[jp] / at_02[jp] > 2.0
    # Observed shares match the model within 1.5 percentage points.
    batch, _ = _draw(3, n=100_000, t0=T0 + 2 * 3_600_000)
    observed = np.bincount(batch.region, minlength=len(domain.REGIONS)) / len(batch)
    assert np.abs(observed - at_02).max() < 0.015


def test_new_releases_ramp_up_then_decay():
    catalog = Catalog.build(4, 3000, now=datetime(2026, 1, 1, tzinfo=timezone.utc))
    newest = int(np.argmax(catalog.release_date))
    released = int(catalog.release_date[newest].astype("int64")) * 1000
    w = [catalog.weights_at(released + h * 3_600_000)[newest] for h in (1, 24, 24 * 7)]
    assert w[1] > w[0] and w[1] > w[2]
    assert catalog.weights_at(released - 3_600_000)[newest] == 0  # not released yet


def test_events_are_internally_consistent():
    batch, catalog = _draw(11, n=50_000)
    et = batch.event_type
    assert (batch.error_code[et == domain.DOWNLOAD_FAILED] >= 0).all()
    assert (batch.price_minor[et != domain.PURCHASE] == 0).all()
    assert (batch.price_minor[et == domain.PURCHASE] >= 0).all()
    assert (batch.currency[et == domain.PURCHASE] >= 0).all() and (batch.currency[et != domain.PURCHASE] == -1).all()
    assert (batch.ttfb_ms[et == domain.PURCHASE] == 0).all()
    # Apps are only downloaded or bought; every node serves only its own region.
    app = batch.content_type == domain.CONTENT_TYPES.index("APP")
    assert set(np.unique(et[app])) <= {domain.DOWNLOAD_STARTED, domain.DOWNLOAD_COMPLETED, domain.DOWNLOAD_FAILED,
                                        domain.PURCHASE}  # fmt: skip
    node_region = {n: i for i, r in enumerate(domain.REGIONS) for n in r.edge_nodes}
    assert all(node_region[domain.EDGE_NODES[n]] == r for n, r in zip(batch.cdn_node, batch.region, strict=True))
    failure_rate = ((et == domain.DOWNLOAD_FAILED).sum()) / np.isin(et, [1, 2]).sum()
    assert failure_rate == pytest.approx(domain.BASE_FAILURE_RATE, abs=0.004)
