package io.dmsserve.metrics;

import static io.dmsserve.metrics.MetricNames.*;

import io.dmsserve.config.ModelLoad;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.scheduler.EngineState;
import io.dmsserve.scheduler.Scheduler;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;

/**
 * The served model's meters: its state (one series per state, 1 for the current one, so an alert can match
 * {@code state="failed"}), how long loading took, and the eviction settings in force. The settings are read
 * from the policy at each scrape: a threshold an admin moves shows as a step in the series, which a
 * dashboard draws as a step line.
 */
public final class ModelMetrics implements MeterBinder {

    /** States of {@code dms_model_state}; loading is before the engine's beans exist. */
    static final String[] STATES = {"loading", "ready", "stopped", "failed"};

    private final Scheduler scheduler;
    private final ModelLoad load;
    private final EvictionPolicy policy;
    private final Tags model;
    private final String backend;

    public ModelMetrics(Scheduler scheduler, ModelLoad load, EvictionPolicy policy, String model, String backend) {
        this.scheduler = scheduler;
        this.load = load;
        this.policy = policy;
        this.model = Tags.of(MODEL, model);
        this.backend = backend;
    }

    /**
     * Every meter reads the scheduler or the policy, which live as long as the server: Micrometer holds the
     * object a meter reads only weakly, the function (and what it captures) strongly.
     */
    @Override
    public void bindTo(MeterRegistry registry) {
        for (String state : STATES) {
            Gauge.builder(MODEL_STATE, scheduler, s -> state().equals(state) ? 1 : 0)
                    .tags(model.and(BACKEND, backend).and(STATE, state))
                    .description("1 for the model's current state (loading, ready, stopped, failed), 0 for the others")
                    .register(registry);
        }
        Gauge.builder(LOAD_PROGRESS, scheduler, s -> load.progress()).tags(model)
                .description("Model loading done, 0 to 1").register(registry);
        Gauge.builder(LOAD_TIME, scheduler, s -> load.seconds()).tags(model).baseUnit("seconds")
                .description("Time loading the model took (checkpoint, weights on the backend, KV pool)")
                .register(registry);
        Tags settings = model.and(POLICY, policy.name());
        Gauge.builder(THRESHOLD, policy, p -> p.rule().threshold()).tags(settings)
                .description("DMS decision threshold in force (+Inf: the policy never flags)").register(registry);
        Gauge.builder(WINDOW, policy, p -> p.evicts() ? p.window() : Double.POSITIVE_INFINITY).tags(settings)
                .description("DMS eviction window w in force, tokens (+Inf: the policy never evicts)")
                .register(registry);
    }

    String state() {
        if (!load.done()) {
            return "loading";
        }
        EngineState state = scheduler.engineState();
        return switch (state) {
            case RUNNING -> "ready";
            case STOPPED -> "stopped";
            case FAILED -> "failed";
        };
    }
}
