"""The content catalog: thousands of items with readable titles, genres, release dates, prices.

Popularity is long-tailed: item weights follow a Zipf law over a random popularity rank. New
releases (released within the last days of the simulated clock) get a boost that ramps up over
the first day, then decays. The catalog is deterministic for a seed and published to PostgreSQL
(`catalog.content`) so the rest of the platform can join it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

from generator import domain

ZIPF_EXPONENT = 1.1
NEW_RELEASE_SHARE = 0.01  # of the catalog, released within the NEW_RELEASE_WINDOW before "now"
NEW_RELEASE_WINDOW = timedelta(days=3)
NEW_RELEASE_PEAK_HOURS = 24.0
NEW_RELEASE_BOOST = 40.0

_ADJ = (
    "Silent", "Golden", "Midnight", "Hidden", "Broken", "Electric", "Crimson", "Endless", "Quiet", "Wild",
    "Lost", "Bright", "Frozen", "Secret", "Northern", "Velvet", "Savage", "Last", "Hollow", "Burning",
)  # fmt: skip
_NOUN = (
    "Harbor", "Echoes", "Kingdom", "Signal", "Garden", "Horizon", "River", "Empire", "Letters", "Storm",
    "Machine", "Orchard", "Frontier", "Mirror", "Tide", "Lantern", "Circuit", "Summer", "Shadows", "Road",
)  # fmt: skip
_APP_WORDS = ("Pocket", "Snap", "Flow", "Quest", "Budget", "Fit", "Note", "Pixel", "Trail", "Chef", "Zen", "Beat")


@dataclass(frozen=True)
class Catalog:
    """Columnar catalog: index i describes item i in every array."""

    content_id: tuple[str, ...]
    title: tuple[str, ...]
    content_type: np.ndarray  # int8 index into domain.CONTENT_TYPES
    genre: tuple[str, ...]
    release_date: np.ndarray  # datetime64[s], UTC
    price_cents: np.ndarray  # int64, US cents (0 = free)
    download_mb: np.ndarray  # float64
    base_weight: np.ndarray  # float64, Zipf popularity, sums to 1

    def __len__(self) -> int:
        return len(self.content_id)

    @classmethod
    def build(cls, seed: int, size: int = 5000, now: datetime | None = None) -> Catalog:
        if size < 10:
            raise ValueError("a catalog needs at least 10 items")
        rng = np.random.default_rng(seed)
        now = now or datetime(2026, 1, 1, tzinfo=timezone.utc)
        weights = np.array(domain.CONTENT_TYPE_WEIGHTS, dtype=float)
        ctype = rng.choice(len(weights), size=size, p=weights / weights.sum()).astype(np.int8)
        ids, titles, genres, prices, sizes = [], [], [], [], []
        counters = [0] * len(domain.CONTENT_TYPES)
        for i in range(size):
            t = int(ctype[i])
            counters[t] += 1
            ids.append(f"{domain.CONTENT_ID_PREFIX[t]}-{counters[t]:06d}")
            titles.append(_title(rng, t, counters[t]))
            genres.append(domain.GENRES[t][rng.integers(len(domain.GENRES[t]))])
            prices.append(domain.PRICE_TIERS_CENTS[t][rng.integers(len(domain.PRICE_TIERS_CENTS[t]))])
            lo, hi = domain.DOWNLOAD_MB[t]
            sizes.append(rng.uniform(lo, hi))
        # Release dates: most within five years; a few new releases within the last days.
        now_s = int(now.timestamp())
        age_s = rng.uniform(NEW_RELEASE_WINDOW.total_seconds(), 5 * 365 * 86400, size=size)
        new = rng.random(size) < NEW_RELEASE_SHARE
        age_s[new] = rng.uniform(0, NEW_RELEASE_WINDOW.total_seconds(), size=int(new.sum()))
        release = (now_s - age_s).astype("int64").astype("datetime64[s]")
        rank = rng.permutation(size) + 1
        zipf = 1.0 / rank.astype(float) ** ZIPF_EXPONENT
        return cls(
            content_id=tuple(ids),
            title=tuple(titles),
            content_type=ctype,
            genre=tuple(genres),
            release_date=release,
            price_cents=np.array(prices, dtype=np.int64),
            download_mb=np.array(sizes),
            base_weight=zipf / zipf.sum(),
        )

    def weights_at(self, t_ms: int) -> np.ndarray:
        """Popularity at event time t: Zipf weights with the new-release ramp and decay applied."""
        age_h = (t_ms / 1000 - self.release_date.astype("int64")) / 3600.0
        boost = np.ones(len(self))
        recent = (age_h >= 0) & (age_h < 24 * 14)
        x = age_h[recent] / NEW_RELEASE_PEAK_HOURS
        boost[recent] += NEW_RELEASE_BOOST * x * np.exp(1 - x)  # rises to the peak at 24 h, then decays
        boost[age_h < 0] = 0.0  # not released yet
        w = self.base_weight * boost
        return w / w.sum()

    def rows(self) -> list[tuple]:
        return [
            (
                self.content_id[i],
                self.title[i],
                domain.CONTENT_TYPES[int(self.content_type[i])],
                self.genre[i],
                self.release_date[i].astype(datetime).replace(tzinfo=timezone.utc),
                int(self.price_cents[i]),
                round(float(self.base_weight[i]), 9),
            )
            for i in range(len(self))
        ]


def _title(rng: np.random.Generator, ctype: int, n: int) -> str:
    adj = _ADJ[rng.integers(len(_ADJ))]
    noun = _NOUN[rng.integers(len(_NOUN))]
    if ctype == 1:  # tv episode
        return f"{adj} {noun} S{rng.integers(1, 6):02d}E{rng.integers(1, 13):02d}"
    if ctype == 3:  # app
        return f"{_APP_WORDS[rng.integers(len(_APP_WORDS))]}{noun}"
    if ctype == 5:  # podcast
        return f"The {noun} Podcast #{n}"
    if ctype == 2:  # music
        return f"{noun} of the {adj} ({rng.integers(1965, 2027)})"
    return f"The {adj} {noun}"


def publish(conn: object, catalog: Catalog) -> int:
    """Upsert the catalog into catalog.content (psycopg connection); returns the row count."""
    with conn.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute("create temporary table content_in (like catalog.content) on commit drop")
        with cur.copy(
            "copy content_in (content_id, title, content_type, genre, released_at, price_usd_cents, popularity)"
            " from stdin"
        ) as copy:
            for row in catalog.rows():
                copy.write_row(row)
        cur.execute(
            """
            insert into catalog.content select * from content_in
            on conflict (content_id) do update set
                title = excluded.title, content_type = excluded.content_type, genre = excluded.genre,
                released_at = excluded.released_at, price_usd_cents = excluded.price_usd_cents,
                popularity = excluded.popularity
            """
        )
    conn.commit()  # type: ignore[attr-defined]
    return len(catalog)
