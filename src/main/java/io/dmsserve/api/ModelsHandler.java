package io.dmsserve.api;

import java.util.List;
import org.springframework.stereotype.Component;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Mono;

/** {@code GET /v1/models} and {@code GET /v1/models/{id}}: the one served model. */
@Component
final class ModelsHandler {

    private final Generator generator;
    private final long created = System.currentTimeMillis() / 1000;

    ModelsHandler(Generator generator) {
        this.generator = generator;
    }

    Mono<ServerResponse> list(ServerRequest request) {
        return Responses.json(new ModelList("list", List.of(card())));
    }

    Mono<ServerResponse> get(ServerRequest request) {
        String id = request.pathVariable("model");
        id = id.startsWith("/") ? id.substring(1) : id;
        if (!id.equals(generator.modelId())) {
            return Responses.error(ApiException.modelNotFound(id));
        }
        return Responses.json(card());
    }

    private ModelList.Card card() {
        return new ModelList.Card(generator.modelId(), created);
    }
}
