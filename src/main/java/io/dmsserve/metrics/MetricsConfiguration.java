package io.dmsserve.metrics;

import io.dmsserve.config.MetricsProperties;
import io.dmsserve.config.ModelLoad;
import io.dmsserve.config.SchedulerProperties;
import io.dmsserve.config.ServingModel;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.scheduler.StepExecutor;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The server's meter binders, one per subsystem; Spring Boot binds every {@code MeterBinder} bean to its
 * registry, which /actuator/prometheus renders. {@code dms.metrics.enabled=false} leaves them out.
 */
@Configuration(proxyBeanMethods = false)
@ConditionalOnBooleanProperty(name = "dms.metrics.enabled", matchIfMissing = true)
class MetricsConfiguration {

    @Bean
    KvCacheMetrics kvCacheMetrics(StepExecutor executor, ServingModel model, MetricsProperties properties) {
        return new KvCacheMetrics(executor.cache(), executor.backend(), model.id(), properties.perHead());
    }

    @Bean
    SchedulerMetrics schedulerMetrics(Scheduler scheduler, ServingModel model, SchedulerProperties properties) {
        return new SchedulerMetrics(scheduler, model.id(), properties.maxRunning(), properties.stepTokens());
    }

    @Bean
    ModelMetrics modelMetrics(Scheduler scheduler, ModelLoad load, EvictionPolicy policy, ServingModel model) {
        return new ModelMetrics(scheduler, load, policy, model.id(), model.backend());
    }
}
