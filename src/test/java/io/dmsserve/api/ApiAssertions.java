package io.dmsserve.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import tools.jackson.databind.JsonNode;

/** Checks of OpenAI's response shapes shared by the API's integration tests. */
final class ApiAssertions {

    private ApiAssertions() {
    }

    /** Checks status and shape; returns the "error" object. */
    static JsonNode assertError(Http.Reply reply, int status, String type, String param) {
        assertEquals(status, reply.status(), reply::body);
        assertTrue(reply.header("Content-Type").startsWith("application/json"), reply.header("Content-Type"));
        JsonNode root = reply.json();
        assertEquals(1, root.size(), reply::body);
        JsonNode error = root.get("error");
        assertEquals(4, error.size(), reply::body);
        assertTrue(error.get("message").isString() && !error.get("message").asString().isBlank());
        assertTrue(error.get("type").isString());
        assertTrue(error.get("param").isString() || error.get("param").isNull());
        assertTrue(error.get("code").isString() || error.get("code").isNull());
        if (type != null) {
            assertEquals(type, error.get("type").asString());
        }
        if (param != null) {
            assertEquals(param, error.get("param").asString(), reply::body);
        }
        assertFalse(reply.body().contains("Exception") || reply.body().contains("\tat "), reply::body);
        return error;
    }

    static JsonNode assertInvalid(Http.Reply reply, String param) {
        return assertError(reply, 400, "invalid_request_error", param);
    }

    static void assertUsage(JsonNode usage, int prompt, int completion) {
        assertEquals(prompt, usage.get("prompt_tokens").asInt(), "prompt_tokens");
        assertEquals(completion, usage.get("completion_tokens").asInt(), "completion_tokens");
        assertEquals(prompt + completion, usage.get("total_tokens").asInt(), "total_tokens");
    }
}
