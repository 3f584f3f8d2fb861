package io.dmsserve.metrics;

/**
 * Every meter name of the server, in Micrometer's dotted form; the Prometheus name follows from it (dots to
 * underscores, {@code _seconds} for timers, {@code _total} for counters) and is given in each comment, as
 * dashboards, alert rules and docs/metrics.md use it. Tags: {@code model} on every meter, {@code layer},
 * {@code kv_head}, {@code reason}, {@code state}, {@code policy} where named; never a request id or text.
 */
public final class MetricNames {

    private MetricNames() {
    }

    // Tags
    public static final String MODEL = "model";
    public static final String LAYER = "layer";
    public static final String KV_HEAD = "kv_head";
    public static final String REASON = "reason";
    public static final String STATE = "state";
    public static final String POLICY = "policy";
    public static final String BACKEND = "backend";

    // KV cache, per layer (summed over KV heads and sequences)
    /** dms_kv_layer_live_tokens: tokens stored now. */
    public static final String LAYER_LIVE = "dms.kv.layer.live.tokens";
    /** dms_kv_layer_evicted_tokens_total: tokens evicted. */
    public static final String LAYER_EVICTED = "dms.kv.layer.evicted.tokens";
    /** dms_kv_layer_flag_decisions_total: DMS decisions that flagged a token. */
    public static final String LAYER_FLAGS = "dms.kv.layer.flag.decisions";
    /** dms_kv_layer_seen_tokens: tokens the open sequences stored, evicted since or not. */
    public static final String LAYER_SEEN = "dms.kv.layer.seen.tokens";
    /** dms_kv_layer_compression_ratio: seen / live. */
    public static final String LAYER_COMPRESSION = "dms.kv.layer.compression.ratio";
    /** dms_kv_layer_pages: pool pages held. */
    public static final String LAYER_PAGES = "dms.kv.layer.pages";
    /** dms_kv_layer_occupancy_ratio: the layer's pages / the pool's pages. */
    public static final String LAYER_OCCUPANCY = "dms.kv.layer.occupancy.ratio";

    // KV cache, per layer and KV head (dms.metrics.per-head)
    /** dms_kv_head_live_tokens. */
    public static final String HEAD_LIVE = "dms.kv.head.live.tokens";
    /** dms_kv_head_evicted_tokens_total. */
    public static final String HEAD_EVICTED = "dms.kv.head.evicted.tokens";

    // KV cache, whole
    /** dms_kv_compression_ratio: seen / live over all layers. */
    public static final String COMPRESSION = "dms.kv.compression.ratio";
    /** dms_kv_cache_usage_ratio: pages used / pages of the pool, 0 to 1 (the EPP's KV-cache utilization). */
    public static final String CACHE_USAGE = "dms.kv.cache.usage.ratio";
    /** dms_kv_pool_pages_used. */
    public static final String POOL_PAGES_USED = "dms.kv.pool.pages.used";
    /** dms_kv_pool_pages_total. */
    public static final String POOL_PAGES_TOTAL = "dms.kv.pool.pages.total";
    /** dms_kv_pool_used_bytes. */
    public static final String POOL_BYTES_USED = "dms.kv.pool.used";
    /** dms_kv_pool_total_bytes. */
    public static final String POOL_BYTES_TOTAL = "dms.kv.pool.total";
    /** dms_device_memory_used_bytes (cuda only). */
    public static final String DEVICE_MEMORY_USED = "dms.device.memory.used";
    /** dms_device_memory_total_bytes (cuda only). */
    public static final String DEVICE_MEMORY_TOTAL = "dms.device.memory.total";

    // Scheduler
    /** dms_requests_running: sequences in the running batch (the EPP's running requests). */
    public static final String RUNNING = "dms.requests.running";
    /** dms_requests_waiting: sequences queued for the batch (the EPP's queued requests). */
    public static final String WAITING = "dms.requests.waiting";
    /** dms_scheduler_preemptions_total. */
    public static final String PREEMPTIONS = "dms.scheduler.preemptions";
    /** dms_requests_rejected_total{reason}. */
    public static final String REJECTED = "dms.requests.rejected";
    /** dms_scheduler_steps_total. */
    public static final String STEPS = "dms.scheduler.steps";
    /** dms_scheduler_step_failures_total. */
    public static final String STEP_FAILURES = "dms.scheduler.step.failures";
    /** dms_scheduler_step_duration_seconds (histogram). */
    public static final String STEP_DURATION = "dms.scheduler.step.duration";
    /** dms_scheduler_step_tokens (histogram). */
    public static final String STEP_TOKENS = "dms.scheduler.step.tokens";
    /** dms_scheduler_step_sequences (histogram). */
    public static final String STEP_SEQUENCES = "dms.scheduler.step.sequences";

    // Requests (sequences: a request with n choices counts n)
    /** dms_request_time_to_first_token_seconds (histogram). */
    public static final String TTFT = "dms.request.time.to.first.token";
    /** dms_request_time_per_output_token_seconds (histogram). */
    public static final String TPOT = "dms.request.time.per.output.token";
    /** dms_request_end_to_end_seconds (histogram). */
    public static final String END_TO_END = "dms.request.end.to.end";
    /** dms_request_queue_time_seconds (histogram). */
    public static final String QUEUE_TIME = "dms.request.queue.time";
    /** dms_request_prompt_tokens_total. */
    public static final String PROMPT_TOKENS = "dms.request.prompt.tokens";
    /** dms_request_generated_tokens_total. */
    public static final String GENERATED_TOKENS = "dms.request.generated.tokens";
    /** dms_request_finished_total{reason}. */
    public static final String FINISHED = "dms.request.finished";

    // Model and eviction settings
    /** dms_model_state{backend, state}: 1 for the current state, 0 for the others. */
    public static final String MODEL_STATE = "dms.model.state";
    /** dms_model_load_progress_ratio. */
    public static final String LOAD_PROGRESS = "dms.model.load.progress.ratio";
    /** dms_model_load_seconds. */
    public static final String LOAD_TIME = "dms.model.load";
    /** dms_eviction_threshold{policy}. */
    public static final String THRESHOLD = "dms.eviction.threshold";
    /** dms_eviction_window_tokens{policy}. */
    public static final String WINDOW = "dms.eviction.window.tokens";
}
