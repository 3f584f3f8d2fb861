package io.dmsserve.api;

import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.http.MediaType;
import org.springframework.http.ReactiveHttpOutputMessage;
import org.springframework.web.reactive.function.BodyInserter;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** JSON and SSE responses of the API. */
final class Responses {

    static final String DONE = "[DONE]";
    private static final Logger log = LoggerFactory.getLogger(Responses.class);

    private Responses() {
    }

    static Mono<ServerResponse> json(Object body) {
        return ServerResponse.ok().contentType(MediaType.APPLICATION_JSON).bodyValue(ApiJson.write(body));
    }

    static Mono<ServerResponse> error(ApiException error) {
        return error(error, null);
    }

    /** The error answer of the request with this id (null before one was assigned). */
    static Mono<ServerResponse> error(ApiException error, String requestId) {
        logged(error, requestId);
        return ServerResponse.status(error.status())
                .headers(h -> error.headers().forEach(h::set))
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue(ApiJson.write(error.body()));
    }

    /** Logs an error answer once: a client's mistake in one line, without a stack trace. */
    static void logged(ApiException error, String requestId) {
        String who = requestId == null ? "request" : requestId;
        if (error.status() >= 500) {
            log.warn("{}: answered {}: {}", who, error.status(), error.getMessage());
        } else {
            log.info("{}: refused with {}: {}", who, error.status(), error.getMessage());
        }
    }

    /**
     * An SSE stream in OpenAI's framing: each payload as {@code data: <payload>\n\n}, flushed at once.
     * Payloads are JSON (or [DONE]) and never contain a newline.
     */
    static Mono<ServerResponse> sse(Flux<String> payloads) {
        BodyInserter<Flux<String>, ReactiveHttpOutputMessage> inserter = (message, context) ->
                message.writeAndFlushWith(payloads.map(p -> Mono.just(buffer(message, p))));
        return ServerResponse.ok()
                .contentType(MediaType.TEXT_EVENT_STREAM)
                .header("Cache-Control", "no-cache")
                .header("X-Accel-Buffering", "no")
                .body(inserter);
    }

    private static DataBuffer buffer(ReactiveHttpOutputMessage message, String payload) {
        return message.bufferFactory().wrap(("data: " + payload + "\n\n").getBytes(StandardCharsets.UTF_8));
    }
}
