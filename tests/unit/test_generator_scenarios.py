"""Each scenario does what its label says, only inside its window, and bad specs get clear errors."""

import numpy as np
import pytest

from generator import domain, scenarios
from generator.catalog import Catalog
from generator.model import EventBatch, EventModel

T0 = 1_767_225_600_000
WINDOW = (60_000, 180_000)  # start=60 s, duration=120 s


def _batch(n: int = 60_000, region_boost=None):
    catalog = Catalog.build(2, 1000)
    model = EventModel(catalog, 2)
    return model.draw(T0 + np.arange(n, dtype=np.int64) * 5, region_boost=region_boost), catalog  # 300 s


def _inside(batch) -> np.ndarray:
    return (batch.event_time >= T0 + WINDOW[0]) & (batch.event_time < T0 + WINDOW[1])


def _apply(spec: str, batch, catalog=None):
    (scenario,) = scenarios.load([spec])
    if isinstance(scenario, scenarios.ViralRelease):
        scenario.bind(catalog)
    effects: dict = {}
    before_inside = _inside(batch).copy()
    out = scenario.apply(batch, T0, np.random.default_rng(0), effects)
    return scenario, out, effects, before_inside


def _error_rate(batch, mask) -> float:
    cdn = mask & np.isin(batch.event_type, [domain.DOWNLOAD_COMPLETED, domain.DOWNLOAD_FAILED, domain.STREAM_STARTED])
    return float((batch.error_code[cdn] >= 0).mean())


def test_cdn_outage_fails_the_node_inside_the_window_only():
    batch, _ = _batch()
    scenario, out, effects, inside = _apply(
        "cdn_outage:node=edge-us-east-1,start=60,duration=120,error_rate=0.6", batch
    )
    node = out.cdn_node == domain.EDGE_NODES.index("edge-us-east-1")
    assert _error_rate(out, node & inside) == pytest.approx(0.6, abs=0.06)
    assert _error_rate(out, node & ~inside) < 0.03
    assert _error_rate(out, ~node & inside) < 0.03
    assert effects["failed_by_outage"] > 100 and scenario.target() == "edge-us-east-1"


def test_latency_degradation_slows_one_node():
    batch, _ = _batch()
    before = batch.ttfb_ms.copy()
    _, out, _, inside = _apply("latency_degradation:node=edge-us-east-1,start=60,duration=120,factor=8", batch)
    node = out.cdn_node == domain.EDGE_NODES.index("edge-us-east-1")
    assert np.median(out.ttfb_ms[node & inside]) > 6 * np.median(before[node & inside])
    assert (out.ttfb_ms[~(node & inside)] == before[~(node & inside)]).all()


def test_viral_release_dominates_its_region_and_its_sessions_end_on_it():
    """Applied as a run applies it (before follow-ups are scheduled): the title takes `share` of the region's
    new sessions in the window, and those sessions complete or end on the same title."""
    catalog = Catalog.build(2, 1000)
    (scenario,) = scenarios.load(["viral_release:region=US,share=0.3,start=60,duration=120"])
    scenario.bind(catalog)
    rng, effects = np.random.default_rng(0), {}
    model = EventModel(catalog, 2)
    times = T0 + np.arange(60_000, dtype=np.int64) * 5
    out = EventBatch.concat([model.draw(times[i : i + 200], adjust=lambda b: scenario.apply(b, T0, rng, effects))
                             for i in range(0, len(times), 200)])  # fmt: skip
    target = catalog.content_id.index(scenario.content_id)
    inside, us = _inside(out), out.region == domain.REGION_CODES.index("US")
    new_sessions = us & (out.started_ms < 0) & (out.event_type != domain.PURCHASE)
    assert (out.content[new_sessions & inside] == target).mean() == pytest.approx(0.3, abs=0.03)
    assert (out.content[new_sessions & ~inside] == target).mean() < 0.05
    viral_sessions = set(out.session_id[new_sessions & inside & (out.content == target)].tolist())
    follow_ups = np.isin(out.session_id, list(viral_sessions)) & (out.started_ms >= 0)
    assert follow_ups.sum() > 200 and (out.content[follow_ups] == target).all()


def test_regional_surge_boosts_the_share():
    (surge,) = scenarios.load(["regional_surge:region=BR,factor=4"])
    plain, _ = _batch(20_000)
    boosted, _ = _batch(20_000, region_boost=surge.region_boost())
    br = domain.REGION_CODES.index("BR")
    assert (boosted.region == br).mean() > 2.5 * (plain.region == br).mean()


def test_out_of_order_and_late_events_move_event_time_back():
    batch, _ = _batch()
    original = batch.event_time.copy()
    _, out, effects, _ = _apply("out_of_order:fraction=0.2,max_delay=4,start=60,duration=120", batch)
    moved = out.event_time != original
    assert 0 < (original - out.event_time)[moved].max() <= 4000 and effects["out_of_order"] == moved.sum()
    batch, _ = _batch()
    original = batch.event_time.copy()
    _, out, effects, _ = _apply("late_events:fraction=0.05,min_delay=60,max_delay=120,start=60,duration=120", batch)
    delay = (original - out.event_time)[out.event_time != original]
    assert delay.min() >= 60_000 and delay.max() <= 120_000 and effects["late"] == len(delay)
    # The fraction is of all the window's events, though openers and short sessions cannot be late.
    assert effects["late"] == pytest.approx(0.05 * _inside(batch).sum(), rel=0.1)
    # Neither moves an outcome before its own start; lateness spares the events that open a session (left out
    # of the windows, a start would leave its counted outcome without one).
    moved = out.event_time != original
    assert (out.event_time[out.started_ms >= 0] > out.started_ms[out.started_ms >= 0]).all()
    assert not np.isin(out.event_type[moved], [domain.DOWNLOAD_STARTED]).any()


def test_duplicates_repeat_events_with_the_same_id():
    batch, _ = _batch(10_000)
    _, out, effects, _ = _apply("duplicates:fraction=0.05,start=0,duration=600", batch)
    assert len(out) == len(batch) + effects["duplicates"]
    ids, counts = np.unique(out.event_id, return_counts=True)
    assert (counts == 2).sum() == effects["duplicates"] > 300
    # A copy follows its original directly: event time never goes back by more than the original's.
    copies = np.flatnonzero(out.event_id[1:] == out.event_id[:-1]) + 1
    assert len(copies) == effects["duplicates"] and (out.event_time[copies] == out.event_time[copies - 1]).all()


def test_unknown_kind_lists_the_valid_ones():
    with pytest.raises(scenarios.ScenarioError, match=r"(?s)unknown scenario 'meteor'.*cdn_outage.*duplicates"):
        scenarios.load(["meteor:start=1"])


def test_bad_parameters_name_the_field():
    with pytest.raises(scenarios.ScenarioError, match="node"):
        scenarios.load(["cdn_outage:node=edge-mars-1"])
    with pytest.raises(scenarios.ScenarioError, match="error_rate"):
        scenarios.load(["cdn_outage:error_rate=2"])
    with pytest.raises(scenarios.ScenarioError, match="colour"):
        scenarios.load(["cdn_outage:colour=red"])


def test_scenario_file(tmp_path):
    path = tmp_path / "incidents.yaml"
    path.write_text("scenarios:\n  - {kind: cdn_outage, node: edge-gb-lon-1, start: 30}\n  - {kind: duplicates}\n")
    loaded = scenarios.load([], path)
    assert [s.kind for s in loaded] == ["cdn_outage", "duplicates"] and loaded[0].start == 30
