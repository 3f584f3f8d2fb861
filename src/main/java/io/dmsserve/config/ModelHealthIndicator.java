package io.dmsserve.config;

import io.dmsserve.kvcache.CacheStatistics;
import io.dmsserve.scheduler.Scheduler;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.stereotype.Component;

/** {@code /actuator/health} shows which model is served and how full its KV cache is. */
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
        CacheStatistics cache = model.backend().cacheStatistics();
        return (scheduler.engineAlive() ? Health.up() : Health.down().withDetail("engine", "stopped"))
                .withDetail("model", model.id())
                .withDetail("backend", model.backend().name())
                .withDetail("policy", model.policy().toString())
                .withDetail("kvPagesInUse", cache.pagesInUse())
                .withDetail("kvPages", cache.pageCount())
                .build();
    }
}
