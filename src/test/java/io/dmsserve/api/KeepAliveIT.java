package io.dmsserve.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * Clients reuse connections and send the next request as soon as a response arrives (OpenAI SDKs do). With
 * Reactor Netty 1.3.6 that could leave a request unread until the client gave up (reactor-netty#4361); this
 * drives the pattern that hung within a few dozen rounds before the workaround in config.
 */
@ApiServer
class KeepAliveIT {

    private static final String BODY = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2}";

    @LocalServerPort
    int port;

    @Test
    void backToBackRequestsOnOneConnectionAllGetAnswers() {
        Http http = new Http(port, Duration.ofSeconds(5));
        for (int i = 0; i < 150; i++) {
            assertEquals(200, http.post("/v1/chat/completions", BODY).status());
            assertEquals(200, http.post("/v1/chat/completions", BODY).status());
            assertEquals(200, http.get("/v1/models").status());
            assertEquals(400, http.post("/v1/chat/completions", "{}").status());
            assertEquals(200, http.post("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":2,\"stream\":true}").status());
            assertEquals(404, http.get("/v1/nope").status());
        }
    }
}
