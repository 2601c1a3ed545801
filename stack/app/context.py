"""The objects one app instance shares between its routes and background tasks."""

from __future__ import annotations

from dataclasses import dataclass

from stack.app.auth import Authenticator, LoginRateLimiter
from stack.app.metrics import AppMetrics
from stack.app.pool import EnginePool
from stack.app.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    pool: EnginePool
    auth: Authenticator
    login_limiter: LoginRateLimiter
    metrics: AppMetrics
    debug_faults: bool = False

    @classmethod
    def build(cls, settings: Settings, *, debug_faults: bool = False) -> AppContext:
        pool = EnginePool(settings.engine_limit)
        metrics = AppMetrics(pool)
        pool.on_release = lambda reason, kind: metrics.slots_released.labels(reason, kind).inc()
        return cls(
            settings=settings,
            pool=pool,
            auth=Authenticator(settings),
            login_limiter=LoginRateLimiter(
                settings.login_max_failures, settings.login_lockout_s, [a.email for a in settings.accounts]
            ),
            metrics=metrics,
            debug_faults=debug_faults,
        )
