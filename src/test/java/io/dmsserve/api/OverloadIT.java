package io.dmsserve.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.engine.Backend;
import io.dmsserve.engine.GatedBackend;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.scheduler.SchedulerStatistics;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import tools.jackson.databind.JsonNode;

/**
 * A server with room for one running sequence and two waiting, its engine behind a gate the test holds, so
 * what is queued is known exactly whatever the machine's speed: past three sequences requests get 429 with
 * Retry-After, a request's n choices are taken all or none, and everything admitted completes once the gate
 * opens.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
    "dms.kv-cache.memory=16MB", "dms.cpu.threads=2", "dms.scheduler.max-running=1",
    "dms.scheduler.max-waiting=2", "dms.api.retry-after=2s"})
@Import(GatedBackend.Wrap.class)
class OverloadIT {

    @LocalServerPort
    int port;
    @Autowired
    Scheduler scheduler;
    @Autowired
    Backend backend;

    Http http;
    GatedBackend gate;

    @BeforeEach
    void setUp() throws Exception {
        http = new Http(port);
        gate = (GatedBackend) backend;
        awaitIdle();
    }

    @AfterEach
    void openTheGate() throws Exception {
        gate.release();
        awaitIdle();
    }

    private CompletableFuture<HttpResponse<String>> send(String body) {
        return http.client.sendAsync(HttpRequest.newBuilder(URI.create(http.base + "/v1/completions"))
                .timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String completion(int n, int maxTokens, boolean stream) {
        return "{\"prompt\":\"hello\",\"max_tokens\":" + maxTokens + ",\"temperature\":0,\"n\":" + n
                + (stream ? ",\"stream\":true" : "") + "}";
    }

    /** One sequence held in its first step at the gate, {@code waiting} more queued behind it. */
    private List<CompletableFuture<HttpResponse<String>>> fill(int waiting) throws Exception {
        gate.hold();
        List<CompletableFuture<HttpResponse<String>>> admitted = new ArrayList<>();
        admitted.add(send(completion(1, 5, true)));
        gate.awaitHeldStep();
        for (int i = 0; i < waiting; i++) {
            admitted.add(send(completion(1, 5, i % 2 == 0)));
        }
        awaitState(s -> s.waiting() == waiting, "waiting " + waiting);
        return admitted;
    }

    @Test
    void aFullQueueAnswers429WithRetryAfter() throws Exception {
        List<CompletableFuture<HttpResponse<String>>> admitted = fill(2);
        long refusedBefore = scheduler.statistics().refused();
        Http.Reply refused = http.post("/v1/chat/completions",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":5}");
        JsonNode error = ApiAssertions.assertError(refused, 429, "rate_limit_error", null);
        assertEquals("rate_limit_exceeded", error.get("code").asString());
        assertEquals("The server is at capacity: 2 requests are waiting; please retry after 2 s.",
                error.get("message").asString());
        assertEquals("2", refused.header("Retry-After"));
        assertEquals(refusedBefore + 1, scheduler.statistics().refused());
        gate.release();
        for (CompletableFuture<HttpResponse<String>> reply : admitted) {
            assertEquals(200, reply.get(60, TimeUnit.SECONDS).statusCode(), "every admitted request completes");
        }
    }

    @Test
    void theChoicesOfOneRequestAreAdmittedAllOrNothing() throws Exception {
        // One running, none waiting: two places are left. Three choices do not fit, none of them is queued;
        // two fit exactly.
        List<CompletableFuture<HttpResponse<String>>> admitted = fill(0);
        SchedulerStatistics before = scheduler.statistics();
        ApiAssertions.assertError(http.post("/v1/completions", completion(3, 5, false)), 429, "rate_limit_error", null);
        SchedulerStatistics after = scheduler.statistics();
        assertEquals(0, after.waiting(), "no choice of the refused request was queued");
        assertEquals(before.refused() + 1, after.refused());
        admitted.add(send(completion(2, 5, false)));
        awaitState(s -> s.waiting() == 2, "both choices of n = 2 waiting");
        gate.release();
        for (CompletableFuture<HttpResponse<String>> reply : admitted) {
            HttpResponse<String> r = reply.get(60, TimeUnit.SECONDS);
            assertEquals(200, r.statusCode(), r.body());
        }
        JsonNode two = Http.JSON.readTree(admitted.get(1).get().body());
        assertEquals(2, two.get("choices").size());
        assertEquals(before.completed() + 3, scheduler.statistics().completed(), "1 + 2 sequences, no more");
    }

    @Test
    void moreConcurrentRequestsThanTheQueueHoldsGet429AndTheRestComplete() throws Exception {
        gate.hold();
        int clients = 16;
        List<CompletableFuture<HttpResponse<String>>> replies = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            replies.add(send(completion(1, 30, i % 2 == 0)));
        }
        // Thirteen are refused while the gate holds the first step: the queue takes exactly three.
        awaitState(s -> s.waiting() == 2 && gate.waitingSteps() == 1, "one held, two waiting");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (replies.stream().filter(CompletableFuture::isDone).count() < clients - 3) {
            assertTrue(System.nanoTime() < deadline, "the refusals never all came");
            Thread.sleep(2);
        }
        for (CompletableFuture<HttpResponse<String>> future : replies) {
            if (future.isDone()) {
                HttpResponse<String> r = future.get();
                assertEquals(429, r.statusCode(), r.body());
                assertTrue(r.headers().firstValue("Retry-After").isPresent());
                assertEquals("rate_limit_error", Http.JSON.readTree(r.body()).get("error").get("type").asString());
            }
        }
        assertEquals(3, replies.stream().filter(f -> !f.isDone()).count(), "three admitted, waiting for the gate");
        gate.release();
        int ok = 0;
        for (CompletableFuture<HttpResponse<String>> future : replies) {
            HttpResponse<String> r = future.get(60, TimeUnit.SECONDS);
            if (r.statusCode() == 200) {
                ok++;
                String finish;
                if (r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream")) {
                    List<JsonNode> chunks = Http.sseJson(r.body());
                    finish = chunks.get(chunks.size() - 1).get("choices").get(0).get("finish_reason").asString();
                } else {
                    finish = Http.JSON.readTree(r.body()).get("choices").get(0).get("finish_reason").asString();
                }
                assertTrue(finish.equals("length") || finish.equals("stop"), finish);
            } else {
                assertEquals(429, r.statusCode(), r.body());
            }
        }
        assertEquals(3, ok, "exactly max-running + max-waiting requests are served");
    }

    private void awaitState(java.util.function.Predicate<SchedulerStatistics> condition, String what)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.test(scheduler.statistics())) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("never reached: " + what + "; " + scheduler.statistics());
            }
            Thread.sleep(2);
        }
    }

    private void awaitIdle() throws InterruptedException {
        awaitState(s -> s.running() == 0 && s.waiting() == 0 && scheduler.cacheStatistics().pagesInUse() == 0,
                "idle, no page in use");
    }
}
