package io.dmsserve.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.config.ServingModel;
import io.dmsserve.scheduler.Scheduler;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;

/**
 * Stop strings taken from the known greedy output, so they must cut it: inside one token and across two,
 * streamed and whole. The stop text never reaches the client; usage counts the tokens up to the one that
 * completed the stop string.
 */
@ApiServer
class StopStringsIT {

    private static final String USER = "Write a long story about memory.";
    private static final int MAX_TOKENS = 80;

    @LocalServerPort
    int port;
    @Autowired
    ServingModel model;
    @Autowired
    Scheduler scheduler;

    Http http;
    Engine engine;
    Engine.Result greedy;
    List<String> pieces;
    String text;

    @BeforeEach
    void setUp() {
        http = new Http(port);
        engine = new Engine(model, scheduler);
        greedy = engine.greedy(engine.chatPrompt(USER, Map.of()), MAX_TOKENS);
        pieces = engine.pieces(greedy.tokens());
        text = greedy.text();
        assertEquals(text, String.join("", pieces));
        assertTrue(text.length() > 40, () -> "greedy output too short for the test: " + text);
    }

    @Test
    void aStopStringInsideTheOutputCutsItBeforeTheStopString() {
        // A stop string starting in the middle of the text, at its first occurrence.
        int at = text.length() / 2;
        String stop = text.substring(at, at + 3);
        at = text.indexOf(stop);
        assertTrue(at > 0);
        check(List.of(stop), at, stop);
    }

    @Test
    void aStopStringSpanningTwoTokensIsHeldBackAndCut() {
        int boundary = 0;
        String stop = null;
        int at = -1;
        for (int k = 1; k < pieces.size() && stop == null; k++) {
            boundary += pieces.get(k - 1).length();
            int left = Math.min(2, pieces.get(k - 1).length());
            int right = Math.min(2, pieces.get(k).length());
            if (left == 0 || right == 0 || boundary < 8) {
                continue;
            }
            String candidate = text.substring(boundary - left, boundary + right);
            if (text.indexOf(candidate) == boundary - left) {
                stop = candidate;
                at = boundary - left;
            }
        }
        assertTrue(stop != null, "no token boundary to test on");
        // With a second stop string that never occurs, and an empty one (ignored).
        check(List.of("\u0001never\u0002", stop, ""), at, stop);
    }

    private void check(List<String> stops, int at, String stop) {
        String expected = text.substring(0, at);
        int tokensUntilStop = tokensCovering(at + stop.length());
        String stopJson = Http.JSON.writeValueAsString(stops);
        String request = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + USER + "\"}],\"temperature\":0,"
                + "\"max_tokens\":" + MAX_TOKENS + ",\"stop\":" + stopJson;

        JsonNode whole = http.post("/v1/chat/completions", request + "}").json();
        JsonNode choice = whole.get("choices").get(0);
        assertEquals(expected, choice.get("message").get("content").asString());
        assertEquals("stop", choice.get("finish_reason").asString());
        assertEquals(tokensUntilStop, whole.get("usage").get("completion_tokens").asInt());

        String body = http.post("/v1/chat/completions",
                request + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}").body();
        assertFalse(body.contains(Http.JSON.writeValueAsString(stop).replaceAll("^\"|\"$", "")),
                "the stop string never appears in the stream");
        List<JsonNode> chunks = Http.sseJson(body);
        StringBuilder streamed = new StringBuilder();
        String finish = null;
        for (JsonNode chunk : chunks.subList(0, chunks.size() - 1)) {
            JsonNode c = chunk.get("choices").get(0);
            if (c.get("delta").has("content")) {
                streamed.append(c.get("delta").get("content").asString());
            }
            if (!c.get("finish_reason").isNull()) {
                finish = c.get("finish_reason").asString();
            }
        }
        assertEquals(expected, streamed.toString());
        assertEquals("stop", finish);
        assertEquals(tokensUntilStop, chunks.get(chunks.size() - 1).get("usage").get("completion_tokens").asInt());

        // The same through /v1/completions on the rendered prompt text.
        String prompt = model.tokenizer().decode(engine.chatPrompt(USER, Map.of()));
        JsonNode completion = http.post("/v1/completions", "{\"prompt\":" + Http.JSON.writeValueAsString(prompt)
                + ",\"temperature\":0,\"max_tokens\":" + MAX_TOKENS + ",\"stop\":" + stopJson + "}").json();
        assertEquals(expected, completion.get("choices").get(0).get("text").asString());
        assertEquals("stop", completion.get("choices").get(0).get("finish_reason").asString());
    }

    /** How many generated tokens it takes for the text to reach {@code length} characters. */
    private int tokensCovering(int length) {
        int covered = 0;
        for (int k = 0; k < pieces.size(); k++) {
            covered += pieces.get(k).length();
            if (covered >= length) {
                return k + 1;
            }
        }
        throw new AssertionError("text shorter than " + length);
    }
}
