package io.dmsserve.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.config.ServingModel;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;

/** Every way a request can be wrong gets OpenAI's error shape with the right status and parameter. */
@ApiServer
class ErrorsIT {

    private static final String CHAT = "/v1/chat/completions";
    private static final String MESSAGES = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";

    @LocalServerPort
    int port;
    @Autowired
    ServingModel model;

    Http http;

    @BeforeEach
    void setUp() {
        http = new Http(port);
    }

    @Test
    void malformedJsonIs400() {
        for (String body : new String[] {"{", "{\"messages\": [}", "not json", "{\"a\":1} trailing", "", "   "}) {
            JsonNode error = ApiAssertions.assertInvalid(http.post(CHAT, body), null);
            assertTrue(error.get("param").isNull());
        }
    }

    @Test
    void aBodyThatIsNotAnObjectIs400() {
        for (String body : new String[] {"[]", "null", "42", "\"text\"", "[{\"messages\":[]}]"}) {
            ApiAssertions.assertInvalid(http.post(CHAT, body), null);
        }
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', value = {
        "messages|\"hello\"",
        "messages|{}",
        "messages[0]|\"hello\"",
        "messages[0].role|5",
        "messages[0].content|5",
        "messages[0].content|{\"text\":\"x\"}",
        "model|5",
        "temperature|\"hot\"",
        "temperature|true",
        "top_p|\"1\"",
        "top_k|1.5",
        "max_tokens|\"10\"",
        "max_completion_tokens|[10]",
        "n|1.5",
        "n|\"2\"",
        "seed|\"42\"",
        "seed|0.5",
        "stream|\"yes\"",
        "stream|1",
        "stop|5",
        "stop|{}",
        "stop[1]|[\"a\",7]",
        "stream_options|true",
        "stream_options.include_usage|\"yes\"",
        "chat_template_kwargs|[]",
    })
    void wrongTypesAre400NamingTheParameter(String param, String value) {
        String body;
        if (param.startsWith("messages")) {
            body = switch (param) {
                case "messages", "messages[0]" -> "{\"messages\":" + (param.equals("messages") ? value : "[" + value + "]") + "}";
                case "messages[0].role" -> "{\"messages\":[{\"role\":" + value + ",\"content\":\"hi\"}]}";
                default -> "{\"messages\":[{\"role\":\"user\",\"content\":" + value + "}]}";
            };
        } else if (param.startsWith("stream_options.")) {
            body = "{" + MESSAGES + ",\"stream\":true,\"stream_options\":{\"include_usage\":" + value + "}}";
        } else {
            body = "{" + MESSAGES + ",\"" + param.replaceAll("\\[.*", "") + "\":" + value + "}";
        }
        JsonNode error = ApiAssertions.assertInvalid(http.post(CHAT, body), param);
        assertEquals("invalid_type", error.get("code").asString(), error::toString);
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', value = {
        "temperature|2.5", "temperature|-0.1", "temperature|1e400", "top_p|0", "top_p|1.01", "top_p|-1",
        "top_k|-2", "n|0", "n|17", "n|100000000000000000000", "max_tokens|0", "max_tokens|-5",
        "max_completion_tokens|0", "max_tokens|-99999999999999999999999", "seed|99999999999999999999999",
        "stop|[\"a\",\"b\",\"c\",\"d\",\"e\"]",
    })
    void outOfRangeValuesAre400NamingTheParameter(String param, String value) {
        JsonNode error = ApiAssertions.assertInvalid(http.post(CHAT, "{" + MESSAGES + ",\"" + param + "\":" + value + "}"), param);
        assertEquals("invalid_value", error.get("code").asString(), error::toString);
    }

    @Test
    void integersBeyondTheRangeOfDoubleAreOutOfRangeNotServerErrors() {
        String huge = "1" + "0".repeat(400);
        for (String param : new String[] {"temperature", "top_p"}) {
            for (String value : new String[] {huge, "-" + huge}) {
                JsonNode error = ApiAssertions.assertInvalid(http.post(CHAT, "{" + MESSAGES + ",\"" + param + "\":" + value + "}"), param);
                assertEquals("invalid_value", error.get("code").asString());
            }
        }
        ApiAssertions.assertInvalid(http.post(CHAT, "{" + MESSAGES + ",\"chat_template_kwargs\":{\"enable_thinking\":" + huge + "}}"),
                "messages");
    }

    @Test
    void maxTokensBeyondWhatTheContextLeavesIsRefusedNamingBothLengths() {
        // A prompt a few tokens short of the context: asking for more than is left is a 400, as OpenAI and
        // vLLM answer it; asking for nothing runs to the context and ends with "length".
        String prompt = "";
        int tokens = 0;
        for (int repeat = 1000; tokens < 4086; repeat += Math.max(1, (4090 - tokens) / 4)) {
            prompt = "memory ".repeat(repeat);
            tokens = model.tokenizer().encode(prompt).length;
        }
        assertTrue(tokens < 4096, "prompt of " + tokens + " tokens");
        JsonNode error = ApiAssertions.assertError(http.post("/v1/completions", "{\"prompt\":\"" + prompt
                + "\",\"max_tokens\":" + (4097 - tokens) + ",\"temperature\":0}"), 400, "invalid_request_error",
                "max_tokens");
        assertEquals("context_length_exceeded", error.get("code").asString());
        assertEquals("This model's maximum context length is 4096 tokens. However, you requested 4097 tokens ("
                + tokens + " in the prompt, " + (4097 - tokens) + " in the completion). Please reduce the length of"
                + " the prompt or max_tokens.", error.get("message").asString());
        error = ApiAssertions.assertError(http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                + "\"max_completion_tokens\":99999999999999999999}"), 400, "invalid_request_error",
                "max_completion_tokens");
        assertTrue(error.get("message").asString().contains("in the messages, 2147483647 in the completion"),
                error::toString);

        Http.Reply reply = http.post("/v1/completions", "{\"prompt\":\"" + prompt + "\",\"temperature\":0}");
        assertEquals(200, reply.status(), reply::body);
        assertEquals("length", reply.json().get("choices").get(0).get("finish_reason").asString());
        ApiAssertions.assertUsage(reply.json().get("usage"), tokens, 4096 - tokens);
        reply = http.post("/v1/completions", "{\"prompt\":\"" + prompt + "\",\"max_tokens\":" + (4096 - tokens)
                + ",\"temperature\":0}");
        assertEquals(200, reply.status(), "exactly what is left is fine: " + reply.body());
    }

    @Test
    void missingOrEmptyMessagesAndBadRolesAre400() {
        assertEquals("missing_required_parameter", ApiAssertions.assertInvalid(http.post(CHAT, "{}"), "messages").get("code").asString());
        ApiAssertions.assertInvalid(http.post(CHAT, "{\"messages\":null}"), "messages");
        assertEquals("empty_array", ApiAssertions.assertInvalid(http.post(CHAT, "{\"messages\":[]}"), "messages").get("code").asString());
        ApiAssertions.assertInvalid(http.post(CHAT, "{\"messages\":[{\"content\":\"hi\"}]}"), "messages[0].role");
        ApiAssertions.assertInvalid(http.post(CHAT, "{\"messages\":[{\"role\":\"robot\",\"content\":\"hi\"}]}"), "messages[0].role");
        ApiAssertions.assertInvalid(http.post(CHAT, "{\"messages\":[{\"role\":\"user\"}]}"), "messages[0].content");
        ApiAssertions.assertInvalid(http.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                + "\"image_url\":{\"url\":\"x\"}}]}]}"), "messages[0].content[0].type");
        ApiAssertions.assertInvalid(http.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}"),
                "messages[0].content[0].text");
        ApiAssertions.assertInvalid(http.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":[5]}]}"),
                "messages[0].content[0]");
    }

    @Test
    void completionPromptErrorsAre400() {
        for (String prompt : new String[] {"5", "[]", "[\"a\",\"b\"]", "[5]", "\"\"", "{}", "null"}) {
            ApiAssertions.assertInvalid(http.post("/v1/completions", "{\"prompt\":" + prompt + "}"), "prompt");
        }
        ApiAssertions.assertInvalid(http.post("/v1/completions", "{}"), "prompt");
    }

    @Test
    void unknownModelIs404() {
        JsonNode error = ApiAssertions.assertError(http.post(CHAT, "{\"model\":\"gpt-4o\"," + MESSAGES + "}"), 404,
                "invalid_request_error", "model");
        assertEquals("model_not_found", error.get("code").asString());
        assertTrue(error.get("message").asString().contains("gpt-4o"));
        ApiAssertions.assertError(http.post("/v1/completions", "{\"model\":\"gpt-4o\",\"prompt\":\"x\"}"), 404, null, "model");
    }

    @Test
    void aPromptLongerThanTheContextIs400NamingBothLengths() {
        String longText = "memory ".repeat(6000);
        int tokens = model.tokenizer().encode(longText).length;
        assertTrue(tokens > 4096);
        JsonNode error = ApiAssertions.assertInvalid(http.post("/v1/completions", "{\"prompt\":\"" + longText + "\"}"), "prompt");
        assertEquals("context_length_exceeded", error.get("code").asString());
        assertTrue(error.get("message").asString().contains("4096"), error::toString);
        assertTrue(error.get("message").asString().contains(Integer.toString(tokens)), error::toString);

        error = ApiAssertions.assertInvalid(http.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"" + longText + "\"}]}"),
                "messages");
        assertTrue(error.get("message").asString().contains("4096"), error::toString);
    }

    @Test
    void aBodyOverTheLimitIs413() {
        String big = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(1_100_000) + "\"}]}";
        ApiAssertions.assertError(http.post(CHAT, big), 413, "invalid_request_error", null);
        // Without a Content-Length (chunked), the limit applies while reading.
        byte[] bytes = big.getBytes(StandardCharsets.UTF_8);
        HttpRequest chunked = HttpRequest.newBuilder(URI.create(http.base + CHAT)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(bytes))).build();
        ApiAssertions.assertError(http.send(chunked), 413, "invalid_request_error", null);
        // Just under the limit is fine (the prompt is then too long for the context: a 400, not a 413).
        String under = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "x ".repeat(400_000) + "\"}]}";
        assertEquals(400, http.post(CHAT, under).status());
    }

    @Test
    void unknownUrlsAndMethodsGetOpenAiErrors() {
        assertEquals("unknown_url", ApiAssertions.assertError(http.get("/v1/nothing-here"), 404, null, null).get("code").asString());
        assertEquals("unknown_url", ApiAssertions.assertError(http.post("/v1/engines/x/completions", "{}"), 404, null, null)
                .get("code").asString());
        assertEquals("method_not_allowed", ApiAssertions.assertError(http.get(CHAT), 405, null, null).get("code").asString());
        HttpRequest delete = HttpRequest.newBuilder(URI.create(http.base + "/v1/models")).DELETE().build();
        ApiAssertions.assertError(http.send(delete), 405, null, null);
    }

    @Test
    void anyContentTypeIsParsedAsJson() {
        String body = "{" + MESSAGES + ",\"max_tokens\":2}";
        for (String type : new String[] {"text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-8"}) {
            assertEquals(200, http.post(CHAT, body, "Content-Type", type).status(), type);
        }
        ApiAssertions.assertInvalid(http.post(CHAT, "messages=hi", "Content-Type", "application/x-www-form-urlencoded"), null);
    }
}
