package io.dmsserve.api;

import java.util.Map;

/**
 * An error the API answers in OpenAI's shape, {@code {"error":{"message","type","param","code"}}}, with its
 * HTTP status and any headers it needs (Retry-After, WWW-Authenticate).
 */
final class ApiException extends RuntimeException {

    static final String INVALID_REQUEST = "invalid_request_error";

    private final int status;
    private final String type;
    private final String param;
    private final String code;
    private final Map<String, String> headers;

    ApiException(int status, String type, String param, String code, String message, Map<String, String> headers) {
        super(Text.wellFormed(message), null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.headers = Map.copyOf(headers);
    }

    ApiException(int status, String type, String param, String code, String message) {
        this(status, type, param, code, message, Map.of());
    }

    static ApiException invalid(String param, String code, String message) {
        return new ApiException(400, INVALID_REQUEST, param, code, message);
    }

    static ApiException invalidType(String param, String expected, String actual) {
        return invalid(param, "invalid_type", "Invalid type for '" + param + "': expected " + expected + ", but got "
                + actual + " instead.");
    }

    static ApiException invalidValue(String param, String message) {
        return invalid(param, "invalid_value", "Invalid '" + param + "': " + message);
    }

    static ApiException missing(String param) {
        return invalid(param, "missing_required_parameter", "Missing required parameter: '" + param + "'.");
    }

    static ApiException malformedJson(String detail) {
        return invalid(null, "invalid_json", "We could not parse the JSON body of your request (" + detail
                + "). The OpenAI API expects a JSON payload.");
    }

    static ApiException modelNotFound(String model) {
        return new ApiException(404, INVALID_REQUEST, "model", "model_not_found",
                "The model '" + Text.quote(model) + "' does not exist.");
    }

    static ApiException contextLengthExceeded(String param, int contextLength, int promptTokens) {
        return invalid(param, "context_length_exceeded", "This model's maximum context length is " + contextLength
                + " tokens, but the prompt has " + promptTokens + " tokens. Please shorten the "
                + (param.equals("messages") ? "messages." : "prompt."));
    }

    /** As OpenAI and vLLM answer a completion limit that does not fit beside the prompt. */
    static ApiException completionTooLong(String param, String promptParam, int contextLength, int promptTokens,
            int maxTokens) {
        return invalid(param, "context_length_exceeded", "This model's maximum context length is " + contextLength
                + " tokens. However, you requested " + ((long) promptTokens + maxTokens) + " tokens (" + promptTokens
                + " in the " + promptParam + ", " + maxTokens + " in the completion). Please reduce the length of the "
                + promptParam + " or " + param + ".");
    }

    /** The request is larger than the whole KV cache: a client matter (a bigger pool would help, retrying not). */
    static ApiException kvCacheExceeded(String reason) {
        return invalid(null, "kv_cache_exceeded", reason + ".");
    }

    static ApiException bodyTooLarge(long limit) {
        return new ApiException(413, INVALID_REQUEST, null, "request_too_large",
                "The request body is larger than the limit of " + limit + " bytes.");
    }

    static ApiException queueFull(String message, long retryAfterSeconds) {
        return new ApiException(429, "rate_limit_error", null, "rate_limit_exceeded",
                message + "; please retry after " + retryAfterSeconds + " s.",
                Map.of("Retry-After", Long.toString(retryAfterSeconds)));
    }

    static ApiException unavailable(String message) {
        return new ApiException(503, "server_error", null, "service_unavailable", message);
    }

    static ApiException serverError(String message) {
        return new ApiException(500, "server_error", null, null, message);
    }

    static ApiException timeout(String message) {
        return new ApiException(504, "server_error", null, "timeout", message);
    }

    int status() {
        return status;
    }

    String type() {
        return type;
    }

    String param() {
        return param;
    }

    String code() {
        return code;
    }

    Map<String, String> headers() {
        return headers;
    }

    ErrorResponse body() {
        return new ErrorResponse(new ErrorResponse.Detail(getMessage(), type, param, code));
    }
}
