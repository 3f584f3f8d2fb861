package io.dmsserve.api;

import org.springframework.web.server.ServerWebExchange;

/** Which requests belong to the OpenAI-compatible API (keys, error shape). */
final class ApiPaths {

    private ApiPaths() {
    }

    /** {@code /v1} and below, ignoring case and repeated slashes so no spelling of the path slips past. */
    static boolean isApi(ServerWebExchange exchange) {
        String path = exchange.getRequest().getPath().pathWithinApplication().value();
        String normalized = path.replaceAll("/{2,}", "/").toLowerCase(java.util.Locale.ROOT);
        return normalized.equals("/v1") || normalized.startsWith("/v1/") || normalized.startsWith("/v1;");
    }
}
