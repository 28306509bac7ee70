"""Reference data of the simulated store: regions, CDN edge nodes, devices, networks, content types.

Weights are relative shares of traffic; every list is ordered and indexed by position, so the
columnar event model can carry small integer codes and the encoder can pre-encode each value once.
"""

from __future__ import annotations

from dataclasses import dataclass

EVENT_TYPES = (
    "DOWNLOAD_STARTED",
    "DOWNLOAD_COMPLETED",
    "DOWNLOAD_FAILED",
    "STREAM_STARTED",
    "STREAM_ENDED",
    "PURCHASE",
)
(DOWNLOAD_STARTED, DOWNLOAD_COMPLETED, DOWNLOAD_FAILED, STREAM_STARTED, STREAM_ENDED, PURCHASE) = range(6)
CONTENT_TYPES = ("MOVIE", "TV_EPISODE", "MUSIC", "APP", "BOOK", "PODCAST")
DEVICES = ("PHONE", "TABLET", "DESKTOP", "TV", "WATCH", "SPEAKER")
NETWORKS = ("WIFI", "CELLULAR_5G", "CELLULAR_4G", "ETHERNET", "OTHER")
REFERRERS = ("SEARCH", "BROWSE", "PROMOTION", "EXTERNAL", "NOTIFICATION")


@dataclass(frozen=True)
class Region:
    code: str  # ISO 3166-1 alpha-2
    name: str
    utc_offset_h: float  # standard time; good enough for a diurnal curve
    weight: float  # share of global traffic at its local peak
    currency: str
    minor_per_usd_cent: float  # price conversion into the local currency's minor unit
    edge_nodes: tuple[str, ...]


REGIONS: tuple[Region, ...] = (
    Region("US", "United States", -5, 30, "USD", 1.0, ("edge-us-east-1", "edge-us-east-2", "edge-us-west-1")),
    Region("CA", "Canada", -5, 4, "CAD", 1.37, ("edge-ca-tor-1",)),
    Region("MX", "Mexico", -6, 4, "MXN", 17.0, ("edge-mx-mex-1",)),
    Region("BR", "Brazil", -3, 6, "BRL", 5.0, ("edge-br-sao-1", "edge-br-sao-2")),
    Region("GB", "United Kingdom", 0, 8, "GBP", 0.79, ("edge-gb-lon-1", "edge-gb-lon-2")),
    Region("DE", "Germany", 1, 7, "EUR", 0.92, ("edge-de-fra-1", "edge-de-fra-2")),
    Region("FR", "France", 1, 5, "EUR", 0.92, ("edge-fr-par-1",)),
    Region("ES", "Spain", 1, 3, "EUR", 0.92, ("edge-es-mad-1",)),
    Region("IN", "India", 5.5, 9, "INR", 83.0, ("edge-in-bom-1", "edge-in-del-1")),
    Region("JP", "Japan", 9, 8, "JPY", 1.5, ("edge-jp-tyo-1", "edge-jp-osa-1")),
    Region("KR", "South Korea", 9, 3, "KRW", 13.5, ("edge-kr-sel-1",)),
    Region("AU", "Australia", 10, 3, "AUD", 1.52, ("edge-au-syd-1",)),
)
REGION_CODES = tuple(r.code for r in REGIONS)
EDGE_NODES = tuple(node for r in REGIONS for node in r.edge_nodes)
CURRENCIES = tuple(sorted({r.currency for r in REGIONS}))

# Device mix, and the OS versions seen on each (newest most common).
DEVICE_WEIGHTS = (52, 14, 12, 14, 4, 4)
OS_VERSIONS = ("18.2", "18.1", "17.6", "17.5", "16.7", "15.8", "11.2", "10.4")
OS_WEIGHTS_BY_DEVICE = (
    (40, 25, 15, 10, 6, 4, 0, 0),  # phone
    (30, 25, 20, 12, 8, 5, 0, 0),  # tablet
    (0, 0, 0, 0, 0, 0, 70, 30),  # desktop (its own version line)
    (45, 30, 15, 10, 0, 0, 0, 0),  # tv
    (0, 0, 0, 0, 0, 0, 60, 40),  # watch
    (0, 0, 0, 0, 0, 0, 50, 50),  # speaker
)

NETWORK_WEIGHTS = (55, 18, 17, 8, 2)
# Median throughput (kbit/s) per network; the model spreads it log-normally.
NETWORK_KBPS = (60_000, 120_000, 25_000, 200_000, 5_000)
# Time-to-first-byte added by the access network, in ms.
NETWORK_TTFB_MS = (15, 20, 45, 5, 90)

CONTENT_TYPE_WEIGHTS = (8, 12, 40, 14, 8, 18)  # share of the catalog
# How each content type's sessions begin, as weights over (DOWNLOAD_STARTED, STREAM_STARTED, PURCHASE).
# A download start is followed by its completion or failure and a stream start by its end (generator.model),
# so outcomes are never drawn on their own.
SESSION_MIX_BY_CONTENT_TYPE = (
    (10, 30, 4),  # movie: mostly streamed, some bought and downloaded
    (8, 38, 2),  # tv episode
    (4, 44, 1),  # music
    (46, 0, 3),  # app: downloads only
    (40, 8, 4),  # book (audiobooks stream)
    (12, 38, 0),  # podcast (free)
)
SESSION_START_TYPES = (DOWNLOAD_STARTED, STREAM_STARTED, PURCHASE)
# Size of one item's download (MB), as (low, high) of a uniform draw per catalog item.
DOWNLOAD_MB = ((1500, 4500), (300, 900), (3, 12), (20, 600), (1, 25), (20, 120))
# Streaming bitrate (kbit/s) per content type.
STREAM_KBPS = (6000, 5000, 256, 0, 64, 128)
# Price tiers in US cents per content type (0 = free); the catalog draws one per item.
PRICE_TIERS_CENTS = (
    (399, 599, 1499, 1999),
    (199, 299, 2499),
    (99, 129, 999),
    (0, 0, 0, 99, 299, 499, 999),
    (499, 999, 1499),
    (0,),
)
GENRES = (
    ("Drama", "Comedy", "Action", "Thriller", "Sci-Fi", "Documentary", "Animation", "Horror", "Romance"),
    ("Drama", "Comedy", "Crime", "Reality", "Sci-Fi", "Documentary", "Kids"),
    ("Pop", "Rock", "Hip-Hop", "Electronic", "Jazz", "Classical", "Country", "R&B", "Latin", "K-Pop"),
    ("Games", "Productivity", "Social", "Photo & Video", "Health", "Education", "Finance", "Travel"),
    ("Fiction", "Mystery", "Biography", "Business", "Self-Help", "Fantasy", "History"),
    ("News", "True Crime", "Comedy", "Technology", "Business", "Health", "Society"),
)
CONTENT_ID_PREFIX = ("mov", "tv", "mus", "app", "book", "pod")

# Error codes of failed deliveries, with their relative frequency under normal operation.
ERROR_CODES = ("HTTP_500", "HTTP_503", "HTTP_504", "TIMEOUT", "CONNECTION_RESET", "CHECKSUM_MISMATCH")
ERROR_WEIGHTS = (20, 25, 15, 25, 10, 5)
BASE_FAILURE_RATE = 0.01  # share of downloads that fail, and of stream starts that error, normally


def diurnal_factor(local_hour: float) -> float:
    """Relative activity at a local hour: lowest about 04:00, peak about 21:00 (0.15 .. 1.0)."""
    import math

    return 0.15 + 0.85 * (1 + math.cos(2 * math.pi * (local_hour - 21) / 24)) / 2
