package io.dmsserve.api;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.annotation.Order;
import org.springframework.core.codec.DecodingException;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebExceptionHandler;
import reactor.core.publisher.Mono;

/**
 * Errors under {@code /v1} in OpenAI's shape, before Spring Boot's own handler (order -1) sees them: the
 * API's own errors as they are, Spring's 4xx (unknown URL, method, media type, body) mapped to theirs, and
 * anything else to a generic 500 whose details stay in the server log, never in the response.
 */
@Component
@Order(-2)
final class ApiErrorHandler implements WebExceptionHandler {

    private static final Logger log = LoggerFactory.getLogger(ApiErrorHandler.class);

    @Override
    public Mono<Void> handle(ServerWebExchange exchange, Throwable ex) {
        ServerHttpResponse response = exchange.getResponse();
        if (!ApiPaths.isApi(exchange) || response.isCommitted()) {
            return Mono.error(ex);
        }
        ApiException error = toApiException(exchange, ex);
        if (error.status() < 500 || ex instanceof ApiException) {
            Responses.logged(error, null); // an unexpected error was logged with its stack trace already
        }
        response.setStatusCode(HttpStatusCode.valueOf(error.status()));
        response.getHeaders().setContentType(MediaType.APPLICATION_JSON);
        error.headers().forEach(response.getHeaders()::set);
        return response.writeWith(Mono.fromSupplier(() -> response.bufferFactory().wrap(ApiJson.write(error.body()))));
    }

    static ApiException toApiException(ServerWebExchange exchange, Throwable ex) {
        if (ex instanceof ApiException api) {
            return api;
        }
        if (has(ex, DataBufferLimitException.class)) {
            return new ApiException(413, ApiException.INVALID_REQUEST, null, "request_too_large",
                    "The request body is too large.");
        }
        if (ex instanceof ResponseStatusException rse && rse.getStatusCode().is4xxClientError()) {
            int status = rse.getStatusCode().value();
            String request = exchange.getRequest().getMethod().name() + " "
                    + Text.quote(exchange.getRequest().getPath().value());
            return switch (status) {
                case 404 -> new ApiException(404, ApiException.INVALID_REQUEST, null, "unknown_url",
                        "Unknown request URL: " + request + ".");
                case 405 -> new ApiException(405, ApiException.INVALID_REQUEST, null, "method_not_allowed",
                        "Method not allowed: " + request + ".");
                case 413 -> new ApiException(413, ApiException.INVALID_REQUEST, null, "request_too_large",
                        "The request body is too large.");
                default -> new ApiException(status, ApiException.INVALID_REQUEST, null, null,
                        "Invalid request: " + (rse.getReason() != null ? Text.quote(rse.getReason()) : status) + ".");
            };
        }
        if (has(ex, DecodingException.class)) {
            return ApiException.malformedJson("the body cannot be decoded");
        }
        log.error("unexpected error on {} {}", exchange.getRequest().getMethod(), exchange.getRequest().getPath(), ex);
        return ApiException.serverError("The server had an error while processing your request. Sorry about that!");
    }

    private static boolean has(Throwable ex, Class<? extends Throwable> type) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }
}
