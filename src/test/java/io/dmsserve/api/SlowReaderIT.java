package io.dmsserve.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.config.ServingModel;
import io.dmsserve.scheduler.Scheduler;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.web.reactive.function.client.WebClient;

/**
 * A client that stops reading its stream must not stall the engine loop: its tokens are buffered, the
 * other requests go on, and its own sequence runs to the end.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class SlowReaderIT {

    @LocalServerPort
    int port;

    @Autowired
    Scheduler scheduler;

    @Autowired
    ServingModel model;

    @Test
    void aClientThatNeverReadsDoesNotStallOthers() throws Exception {
        long before = scheduler.statistics().generatedTokens();
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],\"stream\":true,"
                + "\"max_tokens\":3000,\"temperature\":0}";
        try (Socket silent = new Socket("127.0.0.1", port)) {
            silent.setReceiveBufferSize(4096);
            OutputStream out = silent.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.UTF_8));
            out.flush();
            // Meanwhile another client is served normally.
            String other = WebClient.create("http://127.0.0.1:" + port).post().uri("/v1/chat/completions")
                    .header("Content-Type", "application/json")
                    .bodyValue("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":16}")
                    .retrieve().bodyToMono(String.class).block(Duration.ofSeconds(60));
            assertThat(other).contains("\"finish_reason\"");
            // The silent client's sequence keeps generating far past what its socket buffers can hold
            // (each SSE chunk is ~200 bytes): the engine does not wait for it.
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (scheduler.statistics().generatedTokens() - before < 3000 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(scheduler.statistics().generatedTokens() - before).isGreaterThanOrEqualTo(3000);
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (scheduler.cacheStatistics().pagesInUse() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(scheduler.cacheStatistics().pagesInUse()).isZero();
    }
}
