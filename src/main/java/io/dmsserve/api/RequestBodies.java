package io.dmsserve.api;

import io.dmsserve.config.ApiProperties;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.stereotype.Component;
import org.springframework.web.reactive.function.server.ServerRequest;
import reactor.core.publisher.Mono;

/**
 * Reads request bodies up to {@code dms.api.max-body-size}: a larger declared Content-Length is refused
 * before reading, a larger streamed body as soon as it crosses the limit (413 either way). The content type
 * is not checked: the body is parsed as JSON, as clients that send {@code curl -d} expect.
 */
@Component("apiRequestBodies")
final class RequestBodies {

    private final int limit;

    RequestBodies(ApiProperties properties) {
        this.limit = (int) properties.maxBodySize().toBytes();
    }

    Mono<byte[]> read(ServerRequest request) {
        long declared = request.headers().contentLength().orElse(-1);
        if (declared > limit) {
            return Mono.error(ApiException.bodyTooLarge(limit));
        }
        return DataBufferUtils.join(request.exchange().getRequest().getBody(), limit)
                .map(RequestBodies::bytes)
                .defaultIfEmpty(new byte[0])
                .onErrorMap(DataBufferLimitException.class, e -> ApiException.bodyTooLarge(limit));
    }

    private static byte[] bytes(DataBuffer buffer) {
        try {
            byte[] bytes = new byte[buffer.readableByteCount()];
            buffer.read(bytes);
            return bytes;
        } finally {
            DataBufferUtils.release(buffer);
        }
    }
}
