package io.dmsserve.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.engine.Backend;
import io.dmsserve.engine.GatedBackend;
import io.dmsserve.scheduler.Scheduler;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import tools.jackson.databind.JsonNode;

/**
 * A 1 s deadline and an engine slowed to 20 ms a step (so 4,000 tokens take over a minute on any machine): a
 * request past its deadline ends with an error event (streamed) or a 504 (whole), and frees its pages.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
    "dms.kv-cache.memory=16MB", "dms.cpu.threads=2", "dms.scheduler.max-running=1", "dms.scheduler.deadline=1s"})
@Import(GatedBackend.Wrap.class)
class DeadlineIT {

    private static final String LONG_STREAM = "{\"prompt\":\"hello\",\"max_tokens\":4000,\"temperature\":0,"
            + "\"stream\":true,\"n\":2}";

    @LocalServerPort
    int port;
    @Autowired
    Scheduler scheduler;
    @Autowired
    Backend backend;

    @Test
    void aStreamPastItsDeadlineEndsWithAnErrorEventThenDone() throws Exception {
        ((GatedBackend) backend).delayEachStep(20, TimeUnit.MILLISECONDS);
        Http http = new Http(port);
        // Two choices of 4,000 tokens, one at a time.
        Http.Reply reply = http.post("/v1/completions", LONG_STREAM);
        assertEquals(200, reply.status());
        List<String> payloads = Http.ssePayloads(reply.body());
        assertTrue(payloads.size() > 3, "some text streamed before the deadline");
        assertEquals("[DONE]", payloads.get(payloads.size() - 1));
        JsonNode error = Http.JSON.readTree(payloads.get(payloads.size() - 2));
        assertEquals(1, error.size(), error::toString);
        assertEquals("timeout", error.get("error").get("code").asString());
        assertEquals("server_error", error.get("error").get("type").asString());
        for (String p : payloads.subList(0, payloads.size() - 2)) {
            assertTrue(Http.JSON.readTree(p).get("choices").get(0).get("finish_reason").isNull());
        }

        Http.Reply whole = http.post("/v1/completions", LONG_STREAM.replace("true", "false"));
        assertEquals("timeout", ApiAssertions.assertError(whole, 504, "server_error", null).get("code").asString());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (scheduler.cacheStatistics().pagesInUse() > 0 || scheduler.statistics().running() > 0) {
            assertTrue(System.nanoTime() < deadline, "pages still in use: " + scheduler.cacheStatistics());
            Thread.sleep(5);
        }
    }
}
