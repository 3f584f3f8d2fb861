package io.dmsserve.api;

import io.dmsserve.config.ApiProperties;
import java.util.Map;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpHeaders;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

/**
 * {@code Authorization: Bearer <key>} on {@code /v1}, when {@code dms.api.keys} lists any; otherwise the API
 * is open. The actuator (health, readiness) stays open either way.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 10)
final class ApiKeyFilter implements WebFilter {

    private static final Map<String, String> CHALLENGE = Map.of(HttpHeaders.WWW_AUTHENTICATE, "Bearer");

    private final ApiKeys keys;

    ApiKeyFilter(ApiProperties properties) {
        this.keys = ApiKeys.of(properties.keys());
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        if (!keys.enabled() || !ApiPaths.isApi(exchange)) {
            return chain.filter(exchange);
        }
        String header = exchange.getRequest().getHeaders().getFirst(HttpHeaders.AUTHORIZATION);
        if (header == null || header.isBlank()) {
            return Mono.error(new ApiException(401, ApiException.INVALID_REQUEST, null, "missing_api_key",
                    "You didn't provide an API key. You need to provide your API key in an Authorization header"
                            + " using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", CHALLENGE));
        }
        String trimmed = header.strip();
        String key = trimmed.regionMatches(true, 0, "Bearer ", 0, 7) ? trimmed.substring(7).strip() : null;
        if (key == null || !keys.accepts(key)) {
            return Mono.error(new ApiException(401, ApiException.INVALID_REQUEST, null, "invalid_api_key",
                    "Incorrect API key provided.", CHALLENGE));
        }
        return chain.filter(exchange);
    }
}
