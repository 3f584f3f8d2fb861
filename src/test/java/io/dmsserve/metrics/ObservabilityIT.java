package io.dmsserve.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.config.ServingModel;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The whole chain on real processes: the server on a port, a real Prometheus scraping its /actuator/prometheus
 * every second and loading the alert rules, load from concurrent clients; then every query of every panel of
 * the Grafana dashboard runs against Prometheus over the load and must return data, the scraped counters
 * equal the server's, and once the load is over Prometheus sees the cache idle and nothing running or
 * waiting.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = "dms.metrics.per-head=true")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ObservabilityIT {

    private static final Path DASHBOARD = Tools.OBSERVABILITY.resolve("grafana/dashboards/dms-serve.json");
    private static final Path ALERTS = Tools.OBSERVABILITY.resolve("prometheus/alerts.yml");
    /** What the scraped lines of two layers are written to, for the record (docs/metrics.md shows them). */
    private static final Path SCRAPES = Path.of("target/observability");
    /** Panels that read meters only the cuda backend has; on this cpu server they must be empty. */
    private static final String CUDA_ONLY = "dms_device_memory_";
    /** Grafana's $__rate_interval for a 1 s scrape interval is 4 s; one more keeps a rate from missing a scrape. */
    private static final String RATE_INTERVAL = "5s";

    @LocalServerPort
    int port;

    @Autowired
    ServingModel model;

    @Autowired
    MeterRegistry registry;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private PrometheusServer prometheus;
    private double loadStart;
    private double loadEnd;
    private int answered;

    @BeforeAll
    void scrapeUnderLoad() throws Exception {
        prometheus = PrometheusServer.start("""
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                rule_files:
                  - %s
                scrape_configs:
                  - job_name: dms-serve
                    metrics_path: /actuator/prometheus
                    static_configs:
                      - targets: ["127.0.0.1:%d"]
                """.formatted(ALERTS.toAbsolutePath(), port));
        awaitInPrometheus("up{job=\"dms-serve\"} == 1", "the first scrape");
        loadStart = now();
        answered = load(Duration.ofSeconds(8), 6);
        loadEnd = now();
    }

    @AfterAll
    void stopPrometheus() throws Exception {
        if (prometheus != null) {
            prometheus.close();
        }
    }

    @Test
    void everyDashboardQueryReturnsDataForTheLoadedServer() throws Exception {
        assertThat(answered).as("requests answered during the load").isGreaterThan(20);
        JsonNode dashboard = JsonMapper.builder().build().readTree(DASHBOARD.toFile());
        List<String> empty = new ArrayList<>();
        int queries = 0;
        for (JsonNode panel : panels(dashboard)) {
            for (JsonNode target : panel.path("targets")) {
                String expr = substitute(target.path("expr").asString());
                JsonNode data = prometheus.queryRange(expr, loadStart - 1, now());
                queries++;
                boolean hasData = false;
                for (JsonNode series : data.path("result")) {
                    for (JsonNode point : series.path("values")) {
                        hasData |= Double.isFinite(Double.parseDouble(point.get(1).asString()));
                    }
                }
                boolean cudaOnly = expr.contains(CUDA_ONLY);
                if (cudaOnly) {
                    assertThat(hasData).as("'%s' (cuda only) on the cpu backend", expr).isFalse();
                } else if (!hasData) {
                    empty.add(panel.path("title").asString() + ": " + expr);
                }
            }
        }
        assertThat(queries).as("queries in the dashboard").isGreaterThan(30);
        assertThat(empty).as("panel queries with no data for a loaded server").isEmpty();
        assertThat(scrape()).doesNotContain(CUDA_ONLY);
        for (JsonNode annotation : dashboard.path("annotations").path("list")) {
            if (annotation.has("expr")) {
                // Valid PromQL; it has data only once an admin changed the threshold.
                prometheus.queryRange(substitute(annotation.path("expr").asString()), loadStart, now());
            }
        }
    }

    @Test
    void prometheusScrapedWhatTheServerCounts() throws Exception {
        awaitIdleInPrometheus();
        for (int l = 0; l < 3; l++) {
            String layer = Integer.toString(l);
            double served = registry.get(MetricNames.LAYER_EVICTED).tag(MetricNames.LAYER, layer).functionCounter()
                    .count();
            assertThat(served).as("layer %s evicted tokens under load", layer).isPositive();
            assertThat(value("dms_kv_layer_evicted_tokens_total{layer=\"" + layer + "\"}"))
                    .as("evicted tokens of layer %s in Prometheus", layer).isEqualTo(served);
        }
        double generated = registry.get(MetricNames.GENERATED_TOKENS).functionCounter().count();
        assertThat(value("dms_request_generated_tokens_total")).isEqualTo(generated);
        assertThat(value("sum(dms_request_finished_total)")).isEqualTo(answered);
        assertThat(value("dms_request_time_to_first_token_seconds_count")).isEqualTo(answered);
    }

    @Test
    void afterTheLoadPrometheusSeesTheCacheIdleAndNothingQueued() throws Exception {
        awaitIdleInPrometheus();
        assertThat(value("dms_requests_running")).isZero();
        assertThat(value("dms_requests_waiting")).isZero();
        assertThat(value("dms_kv_cache_usage_ratio")).isZero();
        assertThat(value("sum(dms_kv_layer_live_tokens)")).isZero();
        assertThat(value("sum(dms_kv_layer_occupancy_ratio)")).isZero();
        assertThat(value("sum(dms_kv_head_live_tokens)")).isZero();
        assertThat(value("dms_model_state{state=\"ready\"}")).isEqualTo(1);
        assertThat(value("max_over_time(dms_kv_cache_usage_ratio[1h])")).as("the pool was used under load")
                .isPositive();
        assertThat(value("max_over_time(dms_kv_compression_ratio[1h])")).as("DMS compressed under load")
                .isGreaterThan(1);
    }

    @Test
    void prometheusLoadedTheAlertRulesAndNoneFires() throws Exception {
        JsonNode groups = prometheus.get("/api/v1/rules").path("groups");
        assertThat(groups).hasSize(1);
        List<String> rules = new ArrayList<>();
        for (JsonNode rule : groups.get(0).path("rules")) {
            rules.add(rule.path("name").asString());
            assertThat(rule.path("health").asString()).as("rule %s", rule.path("name").asString()).isEqualTo("ok");
        }
        assertThat(rules).containsExactly("DmsKvPoolNearlyFull", "DmsPreemptionsClimbing", "DmsRequestsRejected",
                "DmsModelNotReady", "DmsServerDown", "DmsEngineFailed");
        assertThat(prometheus.get("/api/v1/alerts").path("alerts")).as("alerts on a healthy server").isEmpty();
    }

    @Test
    void twoLayersAsScraped() throws Exception {
        // For the record: what /actuator/prometheus says about layers 0 and 1 after the load.
        String lines = writeTwoLayers("two-layers-after-load.txt");
        assertThat(lines).contains("dms_kv_layer_evicted_tokens_total{layer=\"0\"",
                "dms_kv_layer_flag_decisions_total{layer=\"1\"", "dms_kv_head_evicted_tokens_total{kv_head=\"1\"");
    }

    private String writeTwoLayers(String file) throws IOException, InterruptedException {
        String lines = scrape().lines().filter(line -> line.contains("layer=\"0\"") || line.contains("layer=\"1\""))
                .collect(Collectors.joining("\n"));
        Files.createDirectories(SCRAPES);
        Files.writeString(SCRAPES.resolve(file), lines + "\n");
        return lines;
    }

    /** Every panel, nested in collapsed rows too. */
    private static List<JsonNode> panels(JsonNode dashboard) {
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode panel : dashboard.path("panels")) {
            out.add(panel);
            panel.path("panels").forEach(out::add);
        }
        return out;
    }

    private String substitute(String expr) {
        return expr.replace("$__rate_interval", RATE_INTERVAL).replace("${model}", model.id())
                .replace("$model", model.id());
    }

    /** Concurrent chat completions for a while; returns how many were answered. */
    private int load(Duration duration, int clients) throws Exception {
        long end = System.nanoTime() + duration.toNanos();
        AtomicInteger ok = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(clients + 1);
        try {
            List<Future<?>> running = new ArrayList<>();
            running.add(pool.submit(() -> {
                // For the record: layers 0 and 1 as scraped in the middle of the load.
                Thread.sleep(duration.toMillis() / 2);
                writeTwoLayers("two-layers-under-load.txt");
                return null;
            }));
            for (int c = 0; c < clients; c++) {
                int client = c;
                running.add(pool.submit(() -> {
                    int i = 0;
                    while (System.nanoTime() < end) {
                        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"client " + client + " asks "
                                + i++ + " things about the weather\"}],\"max_tokens\":" + (24 + 8 * client) + "}";
                        HttpResponse<String> response = http.send(HttpRequest.newBuilder(
                                URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
                                .header("Content-Type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                                HttpResponse.BodyHandlers.ofString());
                        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
                        ok.incrementAndGet();
                    }
                    return null;
                }));
            }
            for (Future<?> f : running) {
                f.get(duration.toSeconds() + 60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        return ok.get();
    }

    /** Until Prometheus has a scrape taken after the load and it reads idle. */
    private void awaitIdleInPrometheus() throws Exception {
        awaitInPrometheus("timestamp(dms_requests_running) > " + (loadEnd + 1)
                + " and dms_requests_running == 0 and dms_kv_cache_usage_ratio == 0", "an idle scrape after the load");
    }

    private void awaitInPrometheus(String promql, String what) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (prometheus.query(promql).path("result").isEmpty()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("Prometheus has no " + what + " within 30 s (" + promql + "); its log: "
                        + prometheus.log());
            }
            Thread.sleep(200);
        }
    }

    /** The one value of an instant query. */
    private double value(String promql) throws IOException, InterruptedException {
        JsonNode result = prometheus.query(promql).path("result");
        assertThat(result).as(promql).hasSize(1);
        return Double.parseDouble(result.get(0).path("value").get(1).asString());
    }

    private String scrape() throws IOException, InterruptedException {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/actuator/prometheus")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }

    private static double now() {
        return System.currentTimeMillis() / 1000.0;
    }
}
