package io.dmsserve.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.scheduler.FinishReason;
import java.net.URI;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * With {@code dms.api.keys} set (one key by its SHA-256 digest, one plain, as DMS_API_KEYS gives them), every
 * path under /v1, however spelled, needs {@code Authorization: Bearer <key>}: 401 with a challenge otherwise,
 * before the body is read; paths outside /v1 are not the filter's business.
 */
@ApiSlice(properties = "dms.api.keys=sha256:ea77193cc4e6f18656f3130e296203880c4b9b3772afc855211b82fdd46e9185,"
        + " plain-key-two")
class ApiKeyFilterSliceTest extends ApiSliceFixture {

    private static final String MISSING = ApiErrorsSliceTest.error("You didn't provide an API key. You need to"
            + " provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer"
            + " YOUR_KEY).", "invalid_request_error", null, "missing_api_key");
    private static final String WRONG = ApiErrorsSliceTest.error("Incorrect API key provided.",
            "invalid_request_error", null, "invalid_api_key");


    FakeScheduler fake;

    @BeforeEach
    void setUp() {
        fake = new FakeScheduler(scheduler).emits(FakeScheduler.tokens(model.tokenizer(), "ok"), FinishReason.STOP);
    }

    private static void assertUnauthorized(WebTestClient.ResponseSpec response, String body) {
        response.expectStatus().isUnauthorized()
                .expectHeader().valueEquals(HttpHeaders.WWW_AUTHENTICATE, "Bearer")
                .expectHeader().contentType(MediaType.APPLICATION_JSON)
                .expectBody(String.class).isEqualTo(body);
    }

    @ParameterizedTest
    @ValueSource(strings = {"/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/nothing-here", "//v1//models",
        "/V1/models", "/v1", "/v1;x=1/models"})
    void withoutAKeyEveryApiPathIs401(String path) {
        // As an absolute URI: a path starting with "//" would otherwise be read as a host name.
        URI uri = URI.create("http://localhost" + path);
        assertUnauthorized(client.get().uri(uri).exchange(), MISSING);
        assertUnauthorized(client.post().uri(uri).bodyValue("not even json").exchange(), MISSING);
        assertThat(fake.submitted).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"Bearer wrong", "Bearer secret-one-", "Basic c2VjcmV0LW9uZQ==", "secret-one", "Bearer",
        "Bearer sha256:ea77193cc4e6f18656f3130e296203880c4b9b3772afc855211b82fdd46e9185"})
    void aWrongKeyIs401(String authorization) {
        assertUnauthorized(client.post().uri("/v1/chat/completions").header(HttpHeaders.AUTHORIZATION, authorization)
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").exchange(), WRONG);
        assertThat(fake.submitted).isEmpty();
    }

    @Test
    void aBlankHeaderIsAMissingKey() {
        assertUnauthorized(client.get().uri("/v1/models").header(HttpHeaders.AUTHORIZATION, "  ").exchange(), MISSING);
    }

    @Test
    void eitherConfiguredKeyPassesToTheApi() {
        client.get().uri("/v1/models").header(HttpHeaders.AUTHORIZATION, "Bearer secret-one").exchange()
                .expectStatus().isOk();
        client.post().uri("/v1/chat/completions").header(HttpHeaders.AUTHORIZATION, "bearer   plain-key-two ")
                .bodyValue("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2}").exchange()
                .expectStatus().isOk();
        assertThat(fake.submitted).hasSize(1);
        // Past the key, errors are the usual ones.
        client.post().uri("/v1/chat/completions").header(HttpHeaders.AUTHORIZATION, "Bearer secret-one")
                .bodyValue("{}").exchange()
                .expectStatus().isBadRequest()
                .expectBody(String.class).isEqualTo(ApiErrorsSliceTest.error("Missing required parameter: 'messages'.",
                        "invalid_request_error", "messages", "missing_required_parameter"));
    }

    @Test
    void pathsOutsideTheApiAreNotFiltered() {
        // Spring Boot's own error handling answers these (the actuator is not part of this slice).
        client.get().uri("/actuator/health").exchange().expectStatus().isNotFound()
                .expectHeader().doesNotExist(HttpHeaders.WWW_AUTHENTICATE);
        client.get().uri("/v1x/models").exchange().expectStatus().isNotFound()
                .expectHeader().doesNotExist(HttpHeaders.WWW_AUTHENTICATE);
    }
}
