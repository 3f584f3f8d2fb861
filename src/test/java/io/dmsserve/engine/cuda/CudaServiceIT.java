package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.config.ServingModel;
import io.dmsserve.scheduler.Scheduler;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * The service on the CUDA backend streams chat over HTTP, and its KV pool is empty again afterwards; a schema-
 * constrained answer sampled with penalties, a logit bias and logprobs (the allowed-token mask and every sampling
 * parameter go through the device's sampling kernel) parses and has the asked shape; the metrics scrape shows
 * the device's memory and the per-layer cache; health gives the weights copied to the device at load.
 */
@Tag("gpu")
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"dms.backend=cuda", "dms.kv-cache.memory=64MB"})
class CudaServiceIT {

    @LocalServerPort
    int port;
    @Autowired
    ServingModel model;
    @Autowired
    Scheduler scheduler;
    @Autowired
    @Qualifier("model")
    HealthIndicator health;

    @Test
    void streamsChatOnTheGpuAndFreesEveryPage() throws Exception {
        assertThat(model.backend()).isEqualTo("cuda");
        HttpClient client = HttpClient.newHttpClient();
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> reply = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                    + "/v1/chat/completions")).timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"messages\":[{\"role\":\"user\",\"content\":\"Hello "
                            + i + "\"}],\"stream\":true,\"max_tokens\":48,\"temperature\":0.7,\"seed\":" + i + "}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(reply.statusCode()).isEqualTo(200);
            assertThat(reply.body()).contains("\"delta\"").endsWith("data: [DONE]\n\n")
                    .containsPattern("\"finish_reason\":\"(length|stop)\"");
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (scheduler.cacheStatistics().pagesInUse() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(scheduler.cacheStatistics().pagesInUse()).isZero();
        assertThat(scheduler.statistics().failed()).isZero();
        var details = health.health().getDetails();
        assertThat(details).containsEntry("backend", "cuda").containsEntry("loaded", true);
        assertThat((Long) details.get("weightsToDeviceBytes")).as("the tiny checkpoint's bf16 weights").isPositive();
        assertThat((Double) details.get("weightsToDeviceSeconds")).isGreaterThanOrEqualTo(0.0);
    }

    @Test
    void constrainedSampledAnswersWithLogprobsAndMetricsOnTheGpu() throws Exception {
        HttpClient client = HttpClient.newHttpClient();
        JsonMapper json = JsonMapper.builder().build();
        String schema = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\",\"maxLength\":12},"
                + "\"n\":{\"type\":\"integer\"},\"ok\":{\"type\":\"boolean\"}},\"required\":[\"city\",\"n\",\"ok\"]}";
        for (int seed = 0; seed < 3; seed++) {
            String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"A city?\"}],\"max_tokens\":200,"
                    + "\"temperature\":0.8,\"seed\":" + seed + ",\"presence_penalty\":0.5,\"frequency_penalty\":0.2,"
                    + "\"repetition_penalty\":1.1,\"logit_bias\":{\"15\":1.5},\"logprobs\":true,\"top_logprobs\":3,"
                    + "\"chat_template_kwargs\":{\"enable_thinking\":false},"
                    + "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"c\",\"schema\":" + schema
                    + "}}}";
            HttpResponse<String> reply = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                    + "/v1/chat/completions")).timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(reply.statusCode()).as(reply.body()).isEqualTo(200);
            JsonNode choice = json.readTree(reply.body()).path("choices").get(0);
            assertThat(choice.path("finish_reason").asString()).as(reply.body()).isEqualTo("stop");
            JsonNode answer = json.readTree(choice.path("message").path("content").asString());
            assertThat(answer.path("city").isString()).as(reply.body()).isTrue();
            assertThat(answer.path("city").asString().codePointCount(0, answer.path("city").asString().length()))
                    .isLessThanOrEqualTo(12);
            assertThat(answer.path("n").isIntegralNumber()).as(reply.body()).isTrue();
            assertThat(answer.path("ok").isBoolean()).as(reply.body()).isTrue();
            JsonNode logprobs = choice.path("logprobs").path("content");
            assertThat(logprobs.size()).as(reply.body()).isPositive();
            for (JsonNode token : logprobs) {
                assertThat(token.path("logprob").asDouble()).isLessThanOrEqualTo(0.0);
                assertThat(token.path("top_logprobs").size()).isEqualTo(3);
            }
        }
        HttpResponse<String> metrics = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                + "/actuator/prometheus")).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body()).containsPattern("(?m)^dms_device_memory_used_bytes\\{[^}]*\\} [1-9]")
                .containsPattern("(?m)^dms_device_memory_total_bytes\\{[^}]*\\} [1-9]")
                .contains("dms_kv_layer_evicted_tokens_total{");
        System.out.println("[gpu] metrics on the CUDA backend:");
        metrics.body().lines().filter(l -> l.startsWith("dms_device_memory") || l.startsWith("dms_kv_pool"))
                .forEach(l -> System.out.println("[gpu]   " + l));
    }
}
