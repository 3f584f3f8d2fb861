package io.dmsserve.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.config.ServingModel;
import io.dmsserve.sampling.SamplingParams;
import io.dmsserve.scheduler.FinishReason;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.tokenizer.ChatMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;

/** {@code /v1/chat/completions} against the engine driven directly: same text, same usage, exact framing. */
@ApiServer
class ChatCompletionsIT {

    private static final String USER = "Tell me about the KV cache.";

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

    private static String body(String extra) {
        return "{\"model\":\"tiny-qwen3-dms\",\"messages\":[{\"role\":\"user\",\"content\":\"" + USER + "\"}],"
                + "\"temperature\":0" + (extra.isEmpty() ? "" : "," + extra) + "}";
    }

    @Test
    void wholeCompletionMatchesTheEngine() {
        Engine.Result expected = engine.greedy(engine.chatPrompt(USER, Map.of()), 40);
        Http.Reply reply = http.post("/v1/chat/completions", body("\"max_tokens\":40"));
        assertEquals(200, reply.status(), reply::body);
        assertTrue(reply.header("Content-Type").startsWith("application/json"));
        JsonNode json = reply.json();
        assertEquals("chat.completion", json.get("object").asString());
        assertTrue(json.get("id").asString().startsWith("chatcmpl-"));
        assertTrue(json.get("created").asLong() > 1_700_000_000L);
        assertEquals("tiny-qwen3-dms", json.get("model").asString());
        assertEquals(1, json.get("choices").size());
        JsonNode choice = json.get("choices").get(0);
        assertEquals(0, choice.get("index").asInt());
        assertEquals("assistant", choice.get("message").get("role").asString());
        assertEquals(expected.text(), choice.get("message").get("content").asString());
        assertEquals(expected.reason() == FinishReason.STOP ? "stop" : "length", choice.get("finish_reason").asString());
        ApiAssertions.assertUsage(json.get("usage"), expected.usage().promptTokens(), expected.usage().completionTokens());
    }

    @Test
    void streamFramingIsOpenAis() {
        Engine.Result expected = engine.greedy(engine.chatPrompt(USER, Map.of()), 40);
        Http.Reply reply = http.post("/v1/chat/completions", body("\"max_tokens\":40,\"stream\":true"));
        assertEquals(200, reply.status(), reply::body);
        assertTrue(reply.header("Content-Type").startsWith("text/event-stream"), reply.header("Content-Type"));
        List<JsonNode> chunks = Http.sseJson(reply.body());

        JsonNode first = chunks.get(0);
        String id = first.get("id").asString();
        assertTrue(id.startsWith("chatcmpl-"));
        for (JsonNode chunk : chunks) {
            assertEquals("chat.completion.chunk", chunk.get("object").asString());
            assertEquals(id, chunk.get("id").asString());
            assertEquals(first.get("created").asLong(), chunk.get("created").asLong());
            assertEquals("tiny-qwen3-dms", chunk.get("model").asString());
            assertFalse(chunk.has("usage"), "no usage field without include_usage");
            assertEquals(1, chunk.get("choices").size());
            assertEquals(0, chunk.get("choices").get(0).get("index").asInt());
        }
        JsonNode firstDelta = first.get("choices").get(0).get("delta");
        assertEquals("assistant", firstDelta.get("role").asString());
        assertEquals("", firstDelta.get("content").asString());
        assertTrue(first.get("choices").get(0).get("finish_reason").isNull());

        StringBuilder text = new StringBuilder();
        for (JsonNode chunk : chunks.subList(1, chunks.size() - 1)) {
            JsonNode choice = chunk.get("choices").get(0);
            assertTrue(choice.get("finish_reason").isNull());
            assertFalse(choice.get("delta").has("role"));
            assertFalse(choice.get("delta").get("content").asString().isEmpty(), "no empty content deltas");
            text.append(choice.get("delta").get("content").asString());
        }
        assertEquals(expected.text(), text.toString());

        JsonNode last = chunks.get(chunks.size() - 1).get("choices").get(0);
        assertTrue(last.get("delta").isEmpty(), "the finishing chunk has an empty delta");
        assertEquals(expected.reason() == FinishReason.STOP ? "stop" : "length", last.get("finish_reason").asString());
    }

    @Test
    void streamWithIncludeUsageEndsWithAUsageChunk() {
        Engine.Result expected = engine.greedy(engine.chatPrompt(USER, Map.of()), 25);
        Http.Reply reply = http.post("/v1/chat/completions",
                body("\"max_completion_tokens\":25,\"stream\":true,\"stream_options\":{\"include_usage\":true}"));
        assertEquals(200, reply.status(), reply::body);
        List<JsonNode> chunks = Http.sseJson(reply.body());
        JsonNode usageChunk = chunks.get(chunks.size() - 1);
        assertEquals("chat.completion.chunk", usageChunk.get("object").asString());
        assertTrue(usageChunk.get("choices").isArray() && usageChunk.get("choices").isEmpty());
        ApiAssertions.assertUsage(usageChunk.get("usage"), expected.usage().promptTokens(), expected.usage().completionTokens());
        for (JsonNode chunk : chunks.subList(0, chunks.size() - 1)) {
            assertTrue(chunk.has("usage") && chunk.get("usage").isNull(), "other chunks carry usage: null");
        }
        JsonNode finish = chunks.get(chunks.size() - 2).get("choices").get(0);
        assertEquals("length", finish.get("finish_reason").asString());
        assertEquals(25, expected.usage().completionTokens());
    }

    @Test
    void nChoicesWithASeedAreReproducibleAndMatchTheEngine() {
        long seed = 1234;
        int[] prompt = engine.chatPrompt(USER, Map.of());
        List<String> expected = new ArrayList<>();
        int completionTokens = 0;
        for (int i = 0; i < 3; i++) {
            Engine.Result r = engine.run(prompt, 20, new SamplingParams(0.9, 0.9, 50, seed + i));
            expected.add(r.text());
            completionTokens += r.usage().completionTokens();
        }
        String request = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + USER + "\"}],\"n\":3,\"seed\":1234,"
                + "\"temperature\":0.9,\"top_p\":0.9,\"top_k\":50,\"max_tokens\":20";

        JsonNode whole = http.post("/v1/chat/completions", request + "}").json();
        assertEquals(3, whole.get("choices").size());
        for (int i = 0; i < 3; i++) {
            JsonNode choice = whole.get("choices").get(i);
            assertEquals(i, choice.get("index").asInt());
            assertEquals(expected.get(i), choice.get("message").get("content").asString(), "choice " + i);
        }
        ApiAssertions.assertUsage(whole.get("usage"), prompt.length, completionTokens);
        assertNotEquals(expected.get(0), expected.get(1), "different seeds sample differently");

        Http.Reply reply = http.post("/v1/chat/completions",
                request + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        List<JsonNode> chunks = Http.sseJson(reply.body());
        StringBuilder[] texts = {new StringBuilder(), new StringBuilder(), new StringBuilder()};
        int[] roles = new int[3];
        int[] finishes = new int[3];
        for (JsonNode chunk : chunks.subList(0, chunks.size() - 1)) {
            JsonNode choice = chunk.get("choices").get(0);
            int index = choice.get("index").asInt();
            JsonNode delta = choice.get("delta");
            if (delta.has("role")) {
                assertEquals(0, texts[index].length() + finishes[index], "role first");
                roles[index]++;
            } else if (delta.has("content")) {
                texts[index].append(delta.get("content").asString());
            }
            if (!choice.get("finish_reason").isNull()) {
                finishes[index]++;
            }
        }
        for (int i = 0; i < 3; i++) {
            assertEquals(1, roles[i]);
            assertEquals(1, finishes[i]);
            assertEquals(expected.get(i), texts[i].toString(), "streamed choice " + i);
        }
        ApiAssertions.assertUsage(chunks.get(chunks.size() - 1).get("usage"), prompt.length, completionTokens);
    }

    @Test
    void enableThinkingFalseAddsTheEmptyThinkBlockToThePrompt() {
        int withThinking = engine.chatPrompt(USER, Map.of()).length;
        int withoutThinking = engine.chatPrompt(USER, Map.of("enable_thinking", false)).length;
        int block = model.tokenizer().encode("<think>\n\n</think>\n\n").length;
        assertEquals(withThinking + block, withoutThinking);

        JsonNode on = http.post("/v1/chat/completions", body("\"max_tokens\":1")).json();
        JsonNode off = http.post("/v1/chat/completions",
                body("\"max_tokens\":1,\"chat_template_kwargs\":{\"enable_thinking\":false}")).json();
        assertEquals(withThinking, on.get("usage").get("prompt_tokens").asInt());
        assertEquals(withoutThinking, off.get("usage").get("prompt_tokens").asInt());
    }

    /**
     * Text parts are joined with newlines (as vLLM does), a null assistant content is empty: the answer to the
     * parts is the engine's greedy answer to the conversation with the joined text, token for token, and the
     * same as the answer to the request written with the joined text.
     */
    @Test
    void contentPartsAreJoinedTextAndOtherRolesWork() {
        String parts = "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                + "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Tell me\"},{\"type\":\"text\",\"text\":\"more.\"}]},"
                + "{\"role\":\"assistant\",\"content\":null},{\"role\":\"tool\",\"content\":\"42\"},"
                + "{\"role\":\"user\",\"content\":\"ok\"}],\"temperature\":0,\"max_tokens\":12,\"unknown_field\":[1,2]}";
        String joined = parts.replace("[{\"type\":\"text\",\"text\":\"Tell me\"},{\"type\":\"text\",\"text\":\"more.\"}]",
                "\"Tell me\\nmore.\"");
        assertTrue(joined.contains("Tell me\\nmore."), joined);
        String rendered = model.tokenizer().chatTemplate().render(List.of(ChatMessage.of("system", "Be brief."),
                ChatMessage.of("user", "Tell me\nmore."), ChatMessage.of("assistant", ""), ChatMessage.of("tool", "42"),
                ChatMessage.of("user", "ok")), true, Map.of());
        int[] prompt = model.tokenizer().encode(rendered);
        Engine.Result expected = engine.greedy(prompt, 12);
        assertEquals(12, expected.tokens().length, "a long enough answer to compare");

        for (String request : List.of(parts, joined)) {
            Http.Reply reply = http.post("/v1/chat/completions", request);
            assertEquals(200, reply.status(), reply::body);
            JsonNode choice = reply.json().get("choices").get(0);
            assertEquals(expected.text(), choice.get("message").get("content").asString(), request);
            assertEquals("length", choice.get("finish_reason").asString());
            ApiAssertions.assertUsage(reply.json().get("usage"), prompt.length, 12);
        }
    }
}
