package io.dmsserve.api;

import io.dmsserve.config.ApiProperties;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.springframework.stereotype.Component;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/** {@code POST /v1/completions}: raw text in, no chat template, streamed (SSE) or whole. */
@Component
final class CompletionsHandler {

    private final RequestBodies bodies;
    private final Prompts prompts;
    private final Generator generator;
    private final int maxN;

    CompletionsHandler(RequestBodies bodies, Prompts prompts, Generator generator, ApiProperties properties) {
        this.bodies = bodies;
        this.prompts = prompts;
        this.generator = generator;
        this.maxN = properties.maxN();
    }

    Mono<ServerResponse> handle(ServerRequest request) {
        Ids ids = Ids.next("cmpl-"); // from the start, so every log line about the request can name it
        return bodies.read(request)
                .publishOn(Schedulers.parallel())
                .flatMap(body -> generate(body, ids))
                .onErrorResume(ApiException.class, error -> Responses.error(error, ids.id()));
    }

    private Mono<ServerResponse> generate(byte[] body, Ids ids) {
        CompletionRequest completion = CompletionRequest.parse(ApiJson.read(body), maxN);
        generator.checkModel(completion.model());
        int[] prompt = prompts.text(completion.prompt());
        Generation generation = generator.start(prompt, completion.options(), "prompt", ids.id());
        return completion.options().stream() ? stream(generation, completion.options(), ids)
                : whole(generation, ids);
    }

    private Mono<ServerResponse> whole(Generation generation, Ids ids) {
        int n = generation.choices();
        return generation.events()
                .reduce(new CollectedChoices(n), CollectedChoices::add)
                .doOnCancel(generation::cancel)
                .doOnError(e -> generation.cancel())
                .flatMap(collected -> {
                    if (!collected.complete()) {
                        return Mono.error(ApiException.serverError("The request was cancelled."));
                    }
                    List<TextCompletion.Choice> choices = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        choices.add(new TextCompletion.Choice(i, collected.text(i),
                                LogprobsBody.completion(collected.logprobs(i)), collected.finishReason(i)));
                    }
                    return Responses.json(new TextCompletion(ids.id(), ids.created(), generator.modelId(), choices,
                            Optional.of(collected.usage())));
                });
    }

    private Mono<ServerResponse> stream(Generation generation, SamplingOptions options, Ids ids) {
        Optional<UsageBody> noUsage = options.includeUsage() ? Optional.empty() : null;
        Flux<String> payloads = generation.events().concatMapIterable(event -> {
            if (event instanceof GenerationEvent.Text t) {
                return List.of(chunk(ids, t.index(), t.text(), LogprobsBody.completion(t.logprobs()), null, noUsage));
            } else if (event instanceof GenerationEvent.Finished f) {
                return List.of(chunk(ids, f.index(), "", null, f.reason(), noUsage));
            } else if (event instanceof GenerationEvent.Done d) {
                return options.includeUsage()
                        ? List.of(ApiJson.writeString(new TextCompletion(ids.id(), ids.created(), generator.modelId(),
                                List.of(), Optional.of(UsageBody.of(d)))), Responses.DONE)
                        : List.of(Responses.DONE);
            }
            return List.of(ApiJson.writeString(((GenerationEvent.Failed) event).error().body()), Responses.DONE);
        });
        return Responses.sse(payloads.doOnCancel(generation::cancel).doOnError(e -> generation.cancel()));
    }

    private String chunk(Ids ids, int index, String text, Object logprobs, String finishReason,
            Optional<UsageBody> usage) {
        return ApiJson.writeString(new TextCompletion(ids.id(), ids.created(), generator.modelId(),
                List.of(new TextCompletion.Choice(index, text, logprobs, finishReason)), usage));
    }
}
