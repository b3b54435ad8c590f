"""Which live version answers a request: the routing table a rollout sets (plain JSON data) and the router a
replica compiles from it. Pure: no Ray, no model.

A table names the champion (whose answers count, and who takes any share a version cannot serve), the
percent of traffic per version, an optional shadow version (scores a copy of the champion's requests; its
answers are discarded), and an optional sticky source, so one caller keeps one version. `epoch` grows with
each change, so statistics can be told apart by the table they were served under; `at` is when the
change was decided, so a replica that hears of two tables keeps the newer one.
"""
from __future__ import annotations

import hashlib
import random
from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class Routing:
    """A routing table: percent per version (champion first unless a rollout orders them), shadow, stickiness."""

    champion: str
    weights: dict[str, float] = field(default_factory=dict)  # version -> percent; empty: the champion alone
    shadow: Optional[str] = None  # a version scoring a copy of live traffic, its answers discarded
    sticky_key: Optional[str] = None  # a request row's field that keeps a caller on one version
    sticky_header: Optional[str] = None  # or a request header (lower case)
    epoch: int = 0
    at: float = 0.0
    mode: str = "single"  # single | canary | shadow | ab | bake: what set the table (for /stats and status)

    @classmethod
    def single(cls, version: str) -> Routing:
        """All traffic to one version (today's endpoint)."""
        return cls(champion=str(version))

    @classmethod
    def from_dict(cls, data: Optional[dict[str, Any]], champion: str) -> Routing:
        """The table a user_config or the monitor carries; the champion alone when there is none."""
        if not data:
            return cls.single(champion)
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["weights"] = {str(k): float(v) for k, v in (known.get("weights") or {}).items()}
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON-able data (user_config, the monitor, the rollout state file)."""
        return asdict(self)

    @property
    def live(self) -> list[str]:
        """Every version the table needs loaded: the champion, the weighted ones, the shadow."""
        return list(dict.fromkeys([self.champion, *self.weights, *([self.shadow] if self.shadow else [])]))

    @property
    def sticky(self) -> bool:
        """Whether one caller keeps one version."""
        return bool(self.sticky_key or self.sticky_header)


def bucket_of(value: Any) -> float:
    """A caller's stable place in [0, 100): the same value lands in the same place in every replica and
    process (Python's hash() is salted per process, so it cannot do this)."""
    digest = hashlib.blake2b(str(value).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * 100


class Router:
    """A routing table compiled for the request path: `pick()` costs one comparison when one version takes
    all traffic, a random draw (or a hash of the sticky value) and a bisect otherwise."""

    def __init__(self, routing: Routing, loaded: Optional[set[str]] = None) -> None:
        self.routing = routing
        # A version that is not loaded (its load failed, or it is still loading) gives its share to the champion.
        weights = {v: w for v, w in routing.weights.items() if w > 0 and (loaded is None or v in loaded)}
        total = sum(weights.values())
        if total < 100 and routing.champion not in weights:
            weights[routing.champion] = 100 - total
        elif total < 100:
            weights[routing.champion] += 100 - total
        self.versions = list(weights)
        self.only = self.versions[0] if len(self.versions) == 1 else None
        scale = 100 / sum(weights.values())
        self.bounds, running = [], 0.0
        for version in self.versions[:-1]:
            running += weights[version] * scale
            self.bounds.append(running)
        self.shadow = routing.shadow if routing.shadow and (loaded is None or routing.shadow in loaded) else None
        self.epoch = routing.epoch

    def pick(self, sticky_value: Any = None) -> str:
        """The version that answers this request."""
        if self.only is not None:
            return self.only
        place = bucket_of(sticky_value) if sticky_value is not None else random.random() * 100
        return self.versions[bisect_right(self.bounds, place)]

    def shares(self) -> dict[str, float]:
        """Percent of traffic per version, as the router splits it."""
        edges = [0.0, *self.bounds, 100.0]
        return {v: round(edges[i + 1] - edges[i], 6) for i, v in enumerate(self.versions)}
