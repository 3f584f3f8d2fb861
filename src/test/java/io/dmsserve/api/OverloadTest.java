package io.dmsserve.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.config.ServingModel;
import io.dmsserve.scheduler.Scheduler;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;

/**
 * A server with room for one running sequence and two waiting, and a 1 s deadline: past that the queue
 * refuses with 429 and Retry-After, admitted requests all complete, and a request that outlives its deadline
 * ends with an error event (streamed) or a 504 (whole).
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
    "dms.kv-cache.memory=16MB", "dms.model.threads=2", "dms.scheduler.max-running=1",
    "dms.scheduler.max-waiting=2", "dms.scheduler.deadline=1s", "dms.api.retry-after=2s"})
class OverloadTest {

    private static final String LONG_STREAM = "{\"prompt\":\"hello\",\"max_tokens\":4000,\"temperature\":0,\"stream\":true}";

    @LocalServerPort
    int port;
    @Autowired
    Scheduler scheduler;
    @Autowired
    ServingModel model;

    Http http;

    @BeforeEach
    void setUp() throws Exception {
        http = new Http(port);
        awaitIdle();
    }

    @Test
    void aFullQueueAnswers429WithRetryAfter() throws Exception {
        // Fill the batch and the queue with long streams; the 1 s deadline ends them, so on a slow start
        // (cold JIT, new connections) the queue may drain before it is seen full: then try again.
        for (int attempt = 0; ; attempt++) {
            List<CompletableFuture<HttpResponse<InputStream>>> streams = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    streams.add(http.client.sendAsync(HttpRequest.newBuilder(URI.create(http.base + "/v1/completions"))
                            .POST(HttpRequest.BodyPublishers.ofString(LONG_STREAM)).build(),
                            HttpResponse.BodyHandlers.ofInputStream()));
                }
                long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(800);
                while (scheduler.statistics().waiting() < 2 && System.nanoTime() < deadline) {
                    Thread.sleep(2);
                }
                if (scheduler.statistics().waiting() == 2) {
                    Http.Reply refused = http.post("/v1/chat/completions",
                            "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":5}");
                    if (refused.status() != 429 && attempt < 5) {
                        continue; // the queue moved on between the check and the request
                    }
                    JsonNode error = ErrorsTest.assertError(refused, 429, "rate_limit_error", null);
                    assertEquals("rate_limit_exceeded", error.get("code").asString());
                    assertEquals("2", refused.header("Retry-After"));
                    return;
                }
                assertTrue(attempt < 5, "the queue was never seen full");
            } finally {
                for (CompletableFuture<HttpResponse<InputStream>> s : streams) {
                    s.thenAccept(r -> {
                        try {
                            r.body().close();
                        } catch (java.io.IOException e) {
                            // closing is all we want
                        }
                    });
                }
                awaitIdle();
            }
        }
    }

    @Test
    void theChoicesOfOneRequestAreAdmittedAllOrNothing() throws Exception {
        // n = 4 needs four queue places; with one running and two waiting, the request is refused whole and
        // the choices submitted before the refusal are withdrawn.
        long cancelledBefore = scheduler.statistics().cancelled();
        ErrorsTest.assertError(http.post("/v1/completions", "{\"prompt\":\"x\",\"n\":4,\"max_tokens\":3000}"),
                429, null, null);
        awaitIdle();
        assertTrue(scheduler.statistics().cancelled() >= cancelledBefore + 2, scheduler.statistics()::toString);
    }

    @Test
    void moreConcurrentRequestsThanTheQueueHoldsGet429AndTheRestComplete() throws Exception {
        int clients = 16;
        // Memory stays bounded: the queue never holds more than max-waiting plus the batch's free places.
        java.util.concurrent.atomic.AtomicInteger mostWaiting = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean sampling = new java.util.concurrent.atomic.AtomicBoolean(true);
        Thread sampler = new Thread(() -> {
            while (sampling.get()) {
                mostWaiting.accumulateAndGet(scheduler.statistics().waiting(), Math::max);
                Thread.onSpinWait();
            }
        });
        sampler.start();
        List<CompletableFuture<HttpResponse<String>>> replies = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            boolean stream = i % 2 == 0;
            String body = "{\"prompt\":\"request " + i + "\",\"max_tokens\":30,\"temperature\":0"
                    + (stream ? ",\"stream\":true" : "") + "}";
            replies.add(http.client.sendAsync(HttpRequest.newBuilder(URI.create(http.base + "/v1/completions"))
                    .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        int ok = 0;
        int refused = 0;
        for (CompletableFuture<HttpResponse<String>> future : replies) {
            HttpResponse<String> r = future.get(30, TimeUnit.SECONDS);
            if (r.statusCode() == 429) {
                refused++;
                assertTrue(r.headers().firstValue("Retry-After").isPresent());
                assertEquals("rate_limit_error", Http.JSON.readTree(r.body()).get("error").get("type").asString());
            } else {
                assertEquals(200, r.statusCode(), r.body());
                ok++;
                String finish;
                if (r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream")) {
                    List<JsonNode> chunks = Http.sseJson(r.body());
                    finish = chunks.get(chunks.size() - 1).get("choices").get(0).get("finish_reason").asString();
                } else {
                    finish = Http.JSON.readTree(r.body()).get("choices").get(0).get("finish_reason").asString();
                }
                assertTrue(finish.equals("length") || finish.equals("stop"), finish);
            }
        }
        sampling.set(false);
        sampler.join();
        assertTrue(mostWaiting.get() <= 3, "queued at most max-waiting + max-running: " + mostWaiting.get());
        assertTrue(ok >= 3, "at least running + waiting requests are served: " + ok);
        assertTrue(refused >= 1, "the excess is refused");
        assertEquals(clients, ok + refused);
        awaitIdle();
    }

    @Test
    void aStreamPastItsDeadlineEndsWithAnErrorEventThenDone() {
        // Two choices of 4,000 tokens, one at a time: far more than this engine generates in 1 s.
        String request = LONG_STREAM.replace("}", ",\"n\":2}");
        Http.Reply reply = http.post("/v1/completions", request);
        assertEquals(200, reply.status());
        List<String> payloads = Http.ssePayloads(reply.body());
        assertTrue(payloads.size() > 3, "some text streamed before the deadline");
        JsonNode error = Http.JSON.readTree(payloads.get(payloads.size() - 2));
        assertEquals(1, error.size(), error::toString);
        assertEquals("timeout", error.get("error").get("code").asString());
        assertEquals("server_error", error.get("error").get("type").asString());
        for (String p : payloads.subList(0, payloads.size() - 2)) {
            assertTrue(Http.JSON.readTree(p).get("choices").get(0).get("finish_reason").isNull());
        }

        Http.Reply whole = http.post("/v1/completions", request.replace("true", "false"));
        assertEquals("timeout", ErrorsTest.assertError(whole, 504, "server_error", null).get("code").asString());
    }

    private void awaitIdle() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            var s = scheduler.statistics();
            if (s.running() == 0 && s.waiting() == 0 && model.backend().cacheStatistics().pagesInUse() == 0) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("server not idle: " + scheduler.statistics() + ", pages in use "
                + model.backend().cacheStatistics().pagesInUse());
    }
}
