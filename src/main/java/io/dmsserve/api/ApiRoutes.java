package io.dmsserve.api;

import static org.springframework.web.reactive.function.server.RequestPredicates.path;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;

/** The OpenAI-compatible endpoints under {@code /v1}. */
@Configuration(proxyBeanMethods = false)
class ApiRoutes {

    @Bean
    RouterFunction<ServerResponse> openAiRoutes(ChatCompletionsHandler chat, CompletionsHandler completions,
            ModelsHandler models) {
        return RouterFunctions.route()
                .POST("/v1/chat/completions", chat::handle)
                .POST("/v1/completions", completions::handle)
                .GET("/v1/models", models::list)
                .GET("/v1/models/{*model}", models::get)
                .route(path("/v1/chat/completions").or(path("/v1/completions")).or(path("/v1/models")),
                        request -> Responses.error(new ApiException(405, ApiException.INVALID_REQUEST, null,
                                "method_not_allowed", "Method " + request.method().name() + " is not allowed on "
                                        + request.path() + ".")))
                .build();
    }
}
