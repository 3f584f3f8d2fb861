package io.dmsserve.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.config.ServingModel;
import io.dmsserve.scheduler.FinishReason;
import io.dmsserve.scheduler.Scheduler;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;

/** {@code /v1/completions}, {@code /v1/models} and the actuator probes. */
@ApiServer
class CompletionsIT {

    private static final String PROMPT = "The key-value cache of a transformer";

    @LocalServerPort
    int port;
    @Autowired
    ServingModel model;
    @Autowired
    Scheduler scheduler;

    Http http;
    Engine engine;

    @BeforeEach
    void setUp() {
        http = new Http(port);
        engine = new Engine(model, scheduler);
    }

    @Test
    void wholeCompletionMatchesTheEngine() {
        Engine.Result expected = engine.greedy(engine.textPrompt(PROMPT), 30);
        for (String prompt : List.of("\"" + PROMPT + "\"", "[\"" + PROMPT + "\"]")) {
            Http.Reply reply = http.post("/v1/completions",
                    "{\"model\":\"tiny-qwen3-dms\",\"prompt\":" + prompt + ",\"temperature\":0,\"max_tokens\":30}");
            assertEquals(200, reply.status(), reply::body);
            JsonNode json = reply.json();
            assertEquals("text_completion", json.get("object").asString());
            assertTrue(json.get("id").asString().startsWith("cmpl-"));
            assertEquals("tiny-qwen3-dms", json.get("model").asString());
            JsonNode choice = json.get("choices").get(0);
            assertEquals(0, choice.get("index").asInt());
            assertEquals(expected.text(), choice.get("text").asString());
            assertEquals(expected.reason() == FinishReason.STOP ? "stop" : "length",
                    choice.get("finish_reason").asString());
            ApiAssertions.assertUsage(json.get("usage"), expected.usage().promptTokens(),
                    expected.usage().completionTokens());
        }
    }

    @Test
    void streamedCompletionMatchesTheEngine() {
        Engine.Result expected = engine.greedy(engine.textPrompt(PROMPT), 30);
        Http.Reply reply = http.post("/v1/completions", "{\"prompt\":\"" + PROMPT + "\",\"temperature\":0,"
                + "\"max_tokens\":30,\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        assertEquals(200, reply.status(), reply::body);
        assertTrue(reply.header("Content-Type").startsWith("text/event-stream"));
        List<JsonNode> chunks = Http.sseJson(reply.body());
        StringBuilder text = new StringBuilder();
        String id = chunks.get(0).get("id").asString();
        for (JsonNode chunk : chunks.subList(0, chunks.size() - 2)) {
            assertEquals("text_completion", chunk.get("object").asString());
            assertEquals(id, chunk.get("id").asString());
            JsonNode choice = chunk.get("choices").get(0);
            assertTrue(choice.get("finish_reason").isNull());
            text.append(choice.get("text").asString());
        }
        assertEquals(expected.text(), text.toString());
        JsonNode finish = chunks.get(chunks.size() - 2).get("choices").get(0);
        assertEquals("", finish.get("text").asString());
        assertEquals(expected.reason() == FinishReason.STOP ? "stop" : "length", finish.get("finish_reason").asString());
        JsonNode usage = chunks.get(chunks.size() - 1);
        assertTrue(usage.get("choices").isEmpty());
        ApiAssertions.assertUsage(usage.get("usage"), expected.usage().promptTokens(),
                expected.usage().completionTokens());
    }

    @Test
    void modelsListsTheServedModel() {
        Http.Reply reply = http.get("/v1/models");
        assertEquals(200, reply.status());
        JsonNode json = reply.json();
        assertEquals("list", json.get("object").asString());
        assertEquals(1, json.get("data").size());
        JsonNode card = json.get("data").get(0);
        assertEquals("tiny-qwen3-dms", card.get("id").asString());
        assertEquals("model", card.get("object").asString());
        assertEquals("dms-serve", card.get("owned_by").asString());
        assertTrue(card.get("created").asLong() > 1_700_000_000L);
        assertEquals(card, http.get("/v1/models/tiny-qwen3-dms").json());
        Http.Reply unknown = http.get("/v1/models/gpt-4");
        assertEquals(404, unknown.status());
        assertEquals("model_not_found", unknown.json().get("error").get("code").asString());
    }

    @Test
    void healthProbesAreUp() {
        for (String path : List.of("/actuator/health", "/actuator/health/readiness", "/actuator/health/liveness")) {
            Http.Reply reply = http.get(path);
            assertEquals(200, reply.status(), path);
            assertEquals("UP", reply.json().get("status").asString(), path);
        }
        assertFalse(http.get("/actuator/health").body().contains("error"));
    }
}
