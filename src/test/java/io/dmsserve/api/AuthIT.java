package io.dmsserve.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;

/**
 * With keys configured (comma-separated as from DMS_API_KEYS: "secret-one" by its SHA-256 digest, and a plain
 * key), /v1 needs {@code Authorization: Bearer <key>}; the actuator stays open.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
    "dms.kv-cache.memory=8MB", "dms.cpu.threads=2",
    "dms.api.keys=sha256:ea77193cc4e6f18656f3130e296203880c4b9b3772afc855211b82fdd46e9185, plain-key-two"})
class AuthIT {

    private static final String CHAT = "/v1/chat/completions";
    private static final String BODY = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2}";

    @LocalServerPort
    int port;

    Http http;

    @BeforeEach
    void setUp() {
        http = new Http(port);
    }

    @Test
    void withoutAKeyEveryApiPathIs401() {
        for (Http.Reply reply : new Http.Reply[] {http.post(CHAT, BODY), http.get("/v1/models"),
                http.post("/v1/completions", "{\"prompt\":\"x\"}"), http.get("/v1/unknown"), http.get("//v1//models"),
                http.get("/V1/models"), http.post(CHAT, "not even json")}) {
            JsonNode error = ApiAssertions.assertError(reply, 401, "invalid_request_error", null);
            assertEquals("missing_api_key", error.get("code").asString());
            assertEquals("Bearer", reply.header("WWW-Authenticate"));
        }
    }

    @Test
    void aWrongKeyIs401() {
        for (String header : new String[] {"Bearer wrong", "Bearer secret-one-", "Bearer sha256:ea77193cc4e6f18656f3130e296203880c4b9b3772afc855211b82fdd46e9185",
                "Basic c2VjcmV0LW9uZQ==", "secret-one", "Bearer ", "Bearer"}) {
            Http.Reply reply = http.post(CHAT, BODY, "Authorization", header);
            assertEquals("invalid_api_key", ApiAssertions.assertError(reply, 401, "invalid_request_error", null)
                    .get("code").asString(), header);
        }
    }

    @Test
    void eitherConfiguredKeyIsAccepted() {
        assertEquals(200, http.post(CHAT, BODY, "Authorization", "Bearer secret-one").status());
        assertEquals(200, http.post(CHAT, BODY, "Authorization", "bearer plain-key-two").status());
        assertEquals(200, http.get("/v1/models", "Authorization", "Bearer secret-one").status());
        // Past the key check, errors are the usual ones.
        ApiAssertions.assertError(http.post(CHAT, "{}", "Authorization", "Bearer secret-one"), 400, null, "messages");
    }

    @Test
    void healthAndProbesStayOpen() {
        assertEquals(200, http.get("/actuator/health").status());
        assertEquals(200, http.get("/actuator/health/readiness").status());
        assertEquals(200, http.get("/actuator/health/liveness").status());
    }
}
