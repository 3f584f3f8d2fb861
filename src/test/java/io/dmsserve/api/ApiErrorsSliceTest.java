package io.dmsserve.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.when;

import io.dmsserve.kvcache.KvCacheFullException;
import io.dmsserve.scheduler.FinishReason;
import io.dmsserve.scheduler.QueueFullException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.http.HttpMethod;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;
import tools.jackson.databind.json.JsonMapper;

/**
 * Every error the API answers, with its exact status, headers and body in OpenAI's shape
 * {@code {"error":{"message","type","param","code"}}}: validation errors naming their parameter, unknown
 * model, full queue, KV capacity, completion limits beyond the context, malformed JSON, unknown routes and
 * methods, Spring's own 4xx, and internal failures that must stay 500s without details.
 */
@ApiSlice
class ApiErrorsSliceTest extends ApiSliceFixture {

    private static final String CHAT = "/v1/chat/completions";
    private static final String COMPLETIONS = "/v1/completions";
    private static final String HELLO = "\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]";
    private static final String RENDERED_HELLO = "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n";
    private static final String INVALID = "invalid_request_error";


    FakeScheduler fake;

    @BeforeEach
    void setUp() {
        fake = new FakeScheduler(scheduler).emits(FakeScheduler.tokens(model.tokenizer(), "ok"), FinishReason.STOP);
    }

    /** OpenAI's error body, written independently of the server's JSON code (field order as OpenAI sends it). */
    static String error(String message, String type, String param, String code) {
        Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("message", message);
        detail.put("type", type);
        detail.put("param", param);
        detail.put("code", code);
        return JsonMapper.builder().build().writeValueAsString(Map.of("error", detail));
    }

    private WebTestClient.ResponseSpec post(String path, String body) {
        return client.post().uri(path).contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange();
    }

    private void assertAnswer(WebTestClient.ResponseSpec response, int status, String body) {
        response.expectStatus().isEqualTo(status)
                .expectHeader().contentType(MediaType.APPLICATION_JSON)
                .expectBody(String.class).isEqualTo(body);
    }

    private void assertInvalid(String path, String request, String param, String code, String message) {
        assertAnswer(post(path, request), 400, error(message, INVALID, param, code));
        assertThat(fake.submitted).as("nothing reaches the scheduler").isEmpty();
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', value = {
        "model|5|a string|an integer",
        "temperature|\"hot\"|a number|a string",
        "temperature|true|a number|a boolean",
        "top_p|\"1\"|a number|a string",
        "top_k|1.5|an integer|a decimal number",
        "max_tokens|\"10\"|an integer|a string",
        "max_completion_tokens|[10]|an integer|an array",
        "n|1.5|an integer|a decimal number",
        "seed|0.5|an integer|a decimal number",
        "stream|1|a boolean|an integer",
        "stop|5|a string or an array of strings|an integer",
        "stop|{}|a string or an array of strings|an object",
        "stream_options|true|an object|a boolean",
        "chat_template_kwargs|[]|an object|an array",
        "messages|\"hello\"|an array|a string",
    })
    void wrongTypesNameTheParameter(String param, String value, String expected, String actual) {
        String request = param.equals("messages") ? "{\"messages\":" + value + "}"
                : "{" + HELLO + ",\"" + param + "\":" + value + "}";
        assertInvalid(CHAT, request, param, "invalid_type",
                "Invalid type for '" + param + "': expected " + expected + ", but got " + actual + " instead.");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "messages[0]|{\"messages\":[\"hello\"]}|an object|a string",
        "messages[0].role|{\"messages\":[{\"role\":5,\"content\":\"hi\"}]}|a string|an integer",
        "messages[0].content|{\"messages\":[{\"role\":\"user\",\"content\":5}]}|a string or an array of content parts|an integer",
        "messages[1].content[0]|{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":[5]}]}|an object|an integer",
        "messages[0].content[0].text|{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":[]}]}]}|a string|an array",
        "messages[0].reasoning_content|{\"messages\":[{\"role\":\"assistant\",\"content\":\"a\",\"reasoning_content\":1}]}|a string|an integer",
        "stop[1]|{" + HELLO + ",\"stop\":[\"a\",7]}|a string|an integer",
        "stream_options.include_usage|{" + HELLO + ",\"stream\":true,\"stream_options\":{\"include_usage\":\"yes\"}}|a boolean|a string",
    })
    void wrongTypesDeepInsideNameTheirPath(String param, String request, String expected, String actual) {
        assertInvalid(CHAT, request, param, "invalid_type",
                "Invalid type for '" + param + "': expected " + expected + ", but got " + actual + " instead.");
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', value = {
        "temperature|2.5|number above maximum value. Expected a value <= 2, but got 2.5 instead.",
        "temperature|-0.1|number below minimum value. Expected a value >= 0, but got -0.1 instead.",
        "temperature|1e400|number above maximum value. Expected a value <= 2, but got a larger number instead.",
        "top_p|0|number below minimum value. Expected a value > 0, but got 0 instead.",
        "top_p|1.01|number above maximum value. Expected a value <= 1, but got 1.01 instead.",
        "top_k|-2|integer below minimum value. Expected a value >= -1, but got -2 instead.",
        "n|0|integer below minimum value. Expected a value >= 1, but got 0 instead.",
        "n|17|integer above maximum value. Expected a value <= 16, but got 17 instead.",
        "max_tokens|0|integer below minimum value. Expected a value >= 1, but got 0 instead.",
        "max_completion_tokens|-5|integer below minimum value. Expected a value >= 1, but got -5 instead.",
        "seed|99999999999999999999999|integer out of range. Expected a 64-bit integer, but got 99999999999999999999999 instead.",
        "stop|[\"a\",\"b\",\"c\",\"d\",\"e\"]|array too long. Expected at most 4 stop sequences, but got 5 instead.",
    })
    void outOfRangeValuesNameTheParameter(String param, String value, String problem) {
        assertInvalid(CHAT, "{" + HELLO + ",\"" + param + "\":" + value + "}", param, "invalid_value",
                "Invalid '" + param + "': " + problem);
    }

    @Test
    void missingAndEmptyValuesNameTheParameter() {
        assertInvalid(CHAT, "{}", "messages", "missing_required_parameter", "Missing required parameter: 'messages'.");
        assertInvalid(CHAT, "{\"messages\":null}", "messages", "missing_required_parameter",
                "Missing required parameter: 'messages'.");
        assertInvalid(CHAT, "{\"messages\":[]}", "messages", "empty_array", "Invalid 'messages': empty array. Expected"
                + " an array with minimum length 1, but got an empty array instead.");
        assertInvalid(CHAT, "{\"messages\":[{\"content\":\"hi\"}]}", "messages[0].role", "missing_required_parameter",
                "Missing required parameter: 'messages[0].role'.");
        assertInvalid(CHAT, "{\"messages\":[{\"role\":\"user\"}]}", "messages[0].content",
                "missing_required_parameter", "Missing required parameter: 'messages[0].content'.");
        assertInvalid(CHAT, "{\"messages\":[{\"role\":\"robot\",\"content\":\"hi\"}]}", "messages[0].role",
                "invalid_value", "Invalid 'messages[0].role': 'robot' is not one of 'system', 'developer', 'user',"
                        + " 'assistant', 'tool'.");
        assertInvalid(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}",
                "messages[0].content[0].type", "invalid_value", "Invalid 'messages[0].content[0].type': content parts"
                        + " of type 'image_url' are not supported; this model accepts 'text' parts only.");
        assertInvalid(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}]}",
                "messages[0].content[0].type", "missing_required_parameter",
                "Missing required parameter: 'messages[0].content[0].type'.");
        assertInvalid(COMPLETIONS, "{}", "prompt", "missing_required_parameter", "Missing required parameter: 'prompt'.");
        assertInvalid(COMPLETIONS, "{\"prompt\":\"\"}", "prompt", "invalid_value",
                "Invalid 'prompt': the prompt must not be empty.");
        assertInvalid(COMPLETIONS, "{\"prompt\":[\"a\",\"b\"]}", "prompt", "invalid_value", "Invalid 'prompt': expected"
                + " one prompt, but got an array of 2 elements; send one request per prompt.");
        assertInvalid(COMPLETIONS, "{\"prompt\":[5]}", "prompt", "invalid_type", "Invalid type for 'prompt': expected"
                + " a string or an array of one string, but got an array of an integer instead.");
    }

    @Test
    void malformedJsonAndBodiesThatAreNotObjects() {
        assertInvalid(CHAT, "", null, "invalid_json",
                "We could not parse the JSON body of your request (the body is empty). The OpenAI API expects a JSON payload.");
        for (String body : new String[] {"{", "{\"messages\": [}", "not json", "{\"a\":1} trailing", "{'a': 1}"}) {
            String answer = post(CHAT, body).expectStatus().isBadRequest()
                    .expectHeader().contentType(MediaType.APPLICATION_JSON)
                    .expectBody(String.class).returnResult().getResponseBody();
            // The parser's own words sit in the parentheses; everything else is fixed.
            String detail = answer.replaceFirst("^\\{\"error\":\\{\"message\":\"We could not parse the JSON body of"
                    + " your request \\((.+)\\)\\. The OpenAI API expects a JSON payload\\.\",\"type\":"
                    + "\"invalid_request_error\",\"param\":null,\"code\":\"invalid_json\"}}$", "$1");
            assertThat(detail).as("%s -> %s", body, answer).isNotEqualTo(answer).isNotBlank().doesNotContain("Exception");
        }
        for (String body : new String[] {"[]", "null", "42", "\"text\""}) {
            String type = body.equals("[]") ? "an array" : body.equals("null") ? "null"
                    : body.equals("42") ? "an integer" : "a string";
            assertInvalid(CHAT, body, null, "invalid_type", "The request body must be a JSON object, but got " + type + ".");
        }
    }

    @Test
    void anyContentTypeIsReadAsJsonSoTheApiItselfNeverAnswers415() {
        for (MediaType type : new MediaType[] {MediaType.TEXT_PLAIN, MediaType.APPLICATION_FORM_URLENCODED,
            MediaType.APPLICATION_XML}) {
            client.post().uri(CHAT).contentType(type).bodyValue("{" + HELLO + "}").exchange()
                    .expectStatus().isOk();
        }
    }

    @Test
    void unknownModelIs404NamingIt() {
        String notFound = error("The model 'gpt-4o' does not exist.", INVALID, "model", "model_not_found");
        assertAnswer(post(CHAT, "{\"model\":\"gpt-4o\"," + HELLO + "}"), 404, notFound);
        assertAnswer(post(COMPLETIONS, "{\"model\":\"gpt-4o\",\"prompt\":\"x\"}"), 404, notFound);
        assertAnswer(client.get().uri("/v1/models/gpt-4o").exchange(), 404, notFound);
        assertThat(fake.submitted).isEmpty();
    }

    @Test
    void aFullQueueIs429WithRetryAfter() {
        fake.refuses(new QueueFullException(7));
        post(CHAT, "{" + HELLO + "}").expectStatus().isEqualTo(429)
                .expectHeader().valueEquals("Retry-After", "1")
                .expectHeader().contentType(MediaType.APPLICATION_JSON)
                .expectBody(String.class).isEqualTo(error("The server is at capacity: 7 requests are waiting; please"
                        + " retry after 1 s.", "rate_limit_error", null, "rate_limit_exceeded"));
    }

    @Test
    void aRequestLargerThanTheKvCacheIs400() {
        String reason = "the prompt of 17 tokens needs at least 12 KV pages, more than the 10 pages of the cache";
        String body = error(reason + ".", INVALID, null, "kv_cache_exceeded");
        fake.refuses(new KvCacheFullException(reason));
        assertAnswer(post(CHAT, "{" + HELLO + "}"), 400, body);
        // Found only once running (the engine's onError): the same error, whole or as the stream's last event.
        fake.failsAfter(FakeScheduler.tokens(model.tokenizer(), "ab"), new KvCacheFullException(reason));
        assertAnswer(post(COMPLETIONS, "{\"prompt\":\"x\"}"), 400, body);
        String stream = post(COMPLETIONS, "{\"prompt\":\"x\",\"stream\":true}").expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();
        assertThat(stream).endsWith("\"text\":\"b\",\"logprobs\":null,\"finish_reason\":null}]}\n\ndata: " + body
                + "\n\ndata: [DONE]\n\n");
    }

    @Test
    void maxTokensBeyondWhatTheContextLeavesIs400NamingBothLengths() {
        int prompt = model.tokenizer().encode(RENDERED_HELLO).length;
        int left = FakeScheduler.CONTEXT - prompt;
        assertInvalid(CHAT, "{" + HELLO + ",\"max_tokens\":" + (left + 1) + "}", "max_tokens", "context_length_exceeded",
                "This model's maximum context length is 4096 tokens. However, you requested 4097 tokens (" + prompt
                        + " in the messages, " + (left + 1) + " in the completion). Please reduce the length of the"
                        + " messages or max_tokens.");
        int textPrompt = model.tokenizer().encode("x").length;
        assertInvalid(COMPLETIONS, "{\"prompt\":\"x\",\"max_completion_tokens\":99999999999999}", "max_completion_tokens",
                "context_length_exceeded", "This model's maximum context length is 4096 tokens. However, you requested "
                        + (2147483647L + textPrompt) + " tokens (" + textPrompt + " in the prompt, 2147483647 in the"
                        + " completion). Please reduce the length of the prompt or max_completion_tokens.");
        post(CHAT, "{" + HELLO + ",\"max_tokens\":" + left + "}").expectStatus().isOk();
        assertThat(fake.submitted.get(0).maxTokens()).as("exactly what the context leaves is fine").isEqualTo(left);
    }

    @Test
    void aPromptThatFillsTheContextIs400NamingBothLengths() {
        int prompt = model.tokenizer().encode(RENDERED_HELLO).length;
        when(scheduler.contextLength()).thenReturn(prompt);
        assertInvalid(CHAT, "{" + HELLO + "}", "messages", "context_length_exceeded", "This model's maximum context"
                + " length is " + prompt + " tokens, but the prompt has " + prompt + " tokens. Please shorten the messages.");
    }

    @Test
    void aTemplateThatFailsOnTheClientsValuesIs400() {
        // chat_template_kwargs may shadow the template's globals; Qwen3's template then calls an int.
        assertInvalid(CHAT, "{" + HELLO + ",\"chat_template_kwargs\":{\"namespace\":1}}", "messages",
                "invalid_messages", "The chat template cannot render these messages: 'int' object is not callable");
    }

    @Test
    void aBodyOverTheLimitIs413() {
        String big = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(1_100_000) + "\"}]}";
        assertAnswer(post(CHAT, big), 413, error("The request body is larger than the limit of 1048576 bytes.",
                INVALID, null, "request_too_large"));
    }

    @Test
    void unknownRoutesAndMethods() {
        assertAnswer(client.get().uri("/v1/nothing-here").exchange(), 404,
                error("Unknown request URL: GET /v1/nothing-here.", INVALID, null, "unknown_url"));
        assertAnswer(post("/v1/engines/x/completions", "{}"), 404,
                error("Unknown request URL: POST /v1/engines/x/completions.", INVALID, null, "unknown_url"));
        assertAnswer(client.get().uri(CHAT).exchange(), 405,
                error("Method GET is not allowed on /v1/chat/completions.", INVALID, null, "method_not_allowed"));
        assertAnswer(client.method(HttpMethod.DELETE).uri("/v1/models").exchange(), 405,
                error("Method DELETE is not allowed on /v1/models.", INVALID, null, "method_not_allowed"));
        assertAnswer(client.put().uri(COMPLETIONS).bodyValue("{}").exchange(), 405,
                error("Method PUT is not allowed on /v1/completions.", INVALID, null, "method_not_allowed"));
    }

    /** Spring's own 4xx (from an annotated endpoint under /v1, see {@link SliceModel.JsonOnlyProbe}) get OpenAI's shape. */
    @Test
    void springsOwnClientErrorsUnderV1GetOpenAisShape() {
        String path = SliceModel.JsonOnlyProbe.PATH;
        client.post().uri(path).contentType(MediaType.APPLICATION_JSON).bodyValue("{}").exchange()
                .expectStatus().isOk();
        assertAnswer(client.post().uri(path).contentType(MediaType.TEXT_PLAIN).bodyValue("{}").exchange(), 415,
                error("Invalid request: Content type 'text/plain' not supported.",
                        INVALID, null, null));
        assertAnswer(client.get().uri(path).exchange(), 405,
                error("Method not allowed: GET " + path + ".", INVALID, null, "method_not_allowed"));
    }

    @Test
    void anInternalFailureIsA500WithoutDetails() {
        fake.refuses(new NullPointerException("secret internal detail"));
        String body = error("The server had an error while processing your request. Sorry about that!", "server_error",
                null, null);
        assertAnswer(post(CHAT, "{" + HELLO + "}"), 500, body);
        fake.failsAfter(new int[0], new IllegalStateException("secret engine detail"));
        assertAnswer(post(COMPLETIONS, "{\"prompt\":\"x\"}"), 500, error("The generation failed: secret engine detail",
                "server_error", null, null));
    }

    @Test
    void aStoppedEngineIs503() {
        fake.refuses(new IllegalStateException("the engine is not running"));
        assertAnswer(post(CHAT, "{" + HELLO + "}"), 503, error("The server cannot take requests now: the engine is"
                + " not running", "server_error", null, "service_unavailable"));
    }
}
