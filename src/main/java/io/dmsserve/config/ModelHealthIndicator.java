package io.dmsserve.config;

import io.dmsserve.kvcache.CacheStatistics;
import io.dmsserve.scheduler.Scheduler;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.stereotype.Component;

/**
 * The served model: UP while the engine thread runs steps. Part of the readiness group, so a dead engine
 * takes the instance out of a load balancer; its details (model, backend, policy, KV pages) are shown to
 * authorised users only.
 */
@Component("model")
class ModelHealthIndicator implements HealthIndicator {

    private final ServingModel model;
    private final Scheduler scheduler;

    ModelHealthIndicator(ServingModel model, Scheduler scheduler) {
        this.model = model;
        this.scheduler = scheduler;
    }

    @Override
    public Health health() {
        CacheStatistics cache = scheduler.cacheStatistics();
        return (scheduler.engineAlive() ? Health.up() : Health.down().withDetail("engine", "stopped"))
                .withDetail("model", model.id())
                .withDetail("backend", model.backend())
                .withDetail("policy", model.policy().toString())
                .withDetail("kvPagesInUse", cache.pagesInUse())
                .withDetail("kvPages", cache.pageCount())
                .build();
    }
}
