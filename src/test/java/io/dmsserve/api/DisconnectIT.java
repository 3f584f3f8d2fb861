package io.dmsserve.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.config.ServingModel;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.scheduler.SchedulerStatistics;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * Clients that go away mid-stream give their KV memory back: 50 streams asking for thousands of tokens each
 * read a few events and close the connection; the pool and the batch are empty again within seconds.
 */
@ApiServer
class DisconnectIT {

    private static final int CLIENTS = 50;

    @LocalServerPort
    int port;
    @Autowired
    Scheduler scheduler;
    @Autowired
    ServingModel model;

    @Test
    void fiftyStreamsDroppedMidStreamReturnEveryPage() throws Exception {
        Http http = new Http(port);
        awaitIdle(10);
        int idlePages = scheduler.cacheStatistics().pagesInUse();
        SchedulerStatistics before = scheduler.statistics();

        List<CompletableFuture<Integer>> clients = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            String body = i % 2 == 0
                    ? "{\"messages\":[{\"role\":\"user\",\"content\":\"client " + i + "\"}],\"max_tokens\":4000,\"stream\":true}"
                    : "{\"prompt\":\"client " + i + "\",\"max_tokens\":4000,\"stream\":true,\"n\":2}";
            String path = i % 2 == 0 ? "/v1/chat/completions" : "/v1/completions";
            int events = 2 + i % 5;
            clients.add(http.client.sendAsync(HttpRequest.newBuilder(URI.create(http.base + path))
                    .timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofInputStream())
                    .thenApply(response -> readThenDrop(response, events)));
        }
        for (CompletableFuture<Integer> client : clients) {
            assertTrue(client.get(60, TimeUnit.SECONDS) > 0);
        }
        // Every sequence was running or queued when its client left.
        awaitIdle(5);
        assertEquals(idlePages, scheduler.cacheStatistics().pagesInUse());
        SchedulerStatistics after = scheduler.statistics();
        long sequences = CLIENTS / 2 + 2L * (CLIENTS / 2);
        assertEquals(sequences, after.cancelled() - before.cancelled(), after::toString);
        assertEquals(before.completed(), after.completed(), "none ran to its end");
    }

    @Test
    void clientsThatGiveUpOnAWholeCompletionAlsoReturnTheirPages() throws Exception {
        Http http = new Http(port);
        awaitIdle(10);
        SchedulerStatistics before = scheduler.statistics();
        List<CompletableFuture<HttpResponse<String>>> clients = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            clients.add(http.client.sendAsync(HttpRequest.newBuilder(URI.create(http.base + "/v1/completions"))
                    .timeout(Duration.ofMillis(300))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"patience " + i + "\",\"max_tokens\":4000}"))
                    .build(), HttpResponse.BodyHandlers.ofString()));
        }
        for (CompletableFuture<HttpResponse<String>> client : clients) {
            try {
                client.get(10, TimeUnit.SECONDS);
                throw new AssertionError("4000 tokens in 300 ms?");
            } catch (java.util.concurrent.ExecutionException e) {
                assertTrue(e.getCause() instanceof java.net.http.HttpTimeoutException, e::toString);
            }
        }
        awaitIdle(5);
        assertEquals(10, scheduler.statistics().cancelled() - before.cancelled());
    }

    /** Reads a few SSE events, then closes the connection mid-stream; returns the events read. */
    private static int readThenDrop(HttpResponse<InputStream> response, int events) {
        assertEquals(200, response.statusCode());
        int read = 0;
        try (InputStream in = response.body()) {
            BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            String line;
            while (read < events && (line = reader.readLine()) != null) {
                if (line.startsWith("data: ")) {
                    assertTrue(!line.equals("data: [DONE]"), "the stream ended before the client left");
                    read++;
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return read;
    }

    private void awaitIdle(int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            SchedulerStatistics s = scheduler.statistics();
            if (s.running() == 0 && s.waiting() == 0 && scheduler.cacheStatistics().pagesInUse() == 0) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("not idle after " + seconds + " s: " + scheduler.statistics() + ", pages in use "
                + scheduler.cacheStatistics().pagesInUse());
    }
}
