"""Prometheus metrics on a registry of the app's own.

Pool gauges are read at scrape time by a collector that only looks at the pool's dict: no
lock is shared between the metrics path and the request path (the seed's hang was a lock
cycle between a metrics collector and a performance monitor).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stack.app.pool import EnginePool

disable_created_metrics()  # *_created series double the scrape for nothing we use

PREFIX = "realtime_qa"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _PoolCollector(Collector):
    def __init__(self, pool: EnginePool) -> None:
        self._pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        active = GaugeMetricFamily(
            f"{PREFIX}_engine_sessions_active", "Sessions holding an engine slot", labels=["kind"]
        )
        for kind, count in self._pool.active_by_kind().items():
            active.add_metric([kind], count)
        yield active
        yield GaugeMetricFamily(f"{PREFIX}_engine_pool_limit", "Engine pool size limit", value=self._pool.limit)
        yield GaugeMetricFamily(
            f"{PREFIX}_engine_pool_free", "Free engine slots", value=max(0, self._pool.limit - len(self._pool))
        )


class AppMetrics:
    def __init__(self, pool: EnginePool) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_PoolCollector(pool))
        r = self.registry
        self.pool_refusals = Counter(
            f"{PREFIX}_engine_pool_refusals", "Requests refused with 4002", ["kind"], registry=r
        )
        self.slots_released = Counter(
            f"{PREFIX}_engine_slots_released", "Engine slots freed, by reason", ["reason", "kind"], registry=r
        )
        self.messages = Counter(
            f"{PREFIX}_realtime_messages", "Realtime WebSocket messages relayed", ["direction"], registry=r
        )
        self.realtime_closes = Counter(
            f"{PREFIX}_realtime_closes", "Realtime sockets closed by the app, by close code", ["code"], registry=r
        )
        self.upstream_connect = Histogram(
            f"{PREFIX}_upstream_connect_seconds",
            "Time to open the upstream model socket",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_failures = Counter(
            f"{PREFIX}_upstream_failures", "Upstream connects refused or sockets lost", ["stage"], registry=r
        )
        self.first_audio = Histogram(
            f"{PREFIX}_response_first_audio_seconds",
            "response.create to first audio delta",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.response = Histogram(
            f"{PREFIX}_response_seconds",
            "response.create to response.done",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.logins = Counter(f"{PREFIX}_logins", "Login attempts by outcome", ["outcome"], registry=r)
        self.http_requests = Histogram(
            f"{PREFIX}_http_request_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
