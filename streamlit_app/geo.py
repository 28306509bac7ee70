"""Where the simulated regions are: centroids for map markers and ISO numeric codes for country shapes.

The country outlines (`assets/countries-110m.json`, Natural Earth 1:110m via the world-atlas package)
ship with the app, so the Regions map renders without network access or map tiles.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pandas as pd

from generator.domain import REGIONS

ASSETS = Path(__file__).resolve().parent / "assets"

# Region code -> (ISO 3166-1 numeric as used by world-atlas, centroid latitude, centroid longitude).
REGION_GEO: dict[str, tuple[str, float, float]] = {
    "US": ("840", 39.8, -98.6),
    "CA": ("124", 56.1, -106.3),
    "MX": ("484", 23.6, -102.6),
    "BR": ("076", -14.2, -51.9),
    "GB": ("826", 54.0, -2.5),
    "DE": ("276", 51.2, 10.4),
    "FR": ("250", 46.6, 2.2),
    "ES": ("724", 40.2, -3.7),
    "IN": ("356", 22.4, 79.0),
    "JP": ("392", 36.2, 138.3),
    "KR": ("410", 36.5, 127.9),
    "AU": ("036", -25.3, 133.8),
}
REGION_NAMES = {r.code: r.name for r in REGIONS}


@lru_cache
def world_topojson() -> dict:
    return json.loads((ASSETS / "countries-110m.json").read_text())


def region_frame() -> pd.DataFrame:
    """One row per region: code, name, ISO numeric id, latitude, longitude."""
    return pd.DataFrame(
        [
            {"region": code, "name": REGION_NAMES.get(code, code), "iso_n3": iso, "lat": lat, "lon": lon}
            for code, (iso, lat, lon) in REGION_GEO.items()
        ]
    )
