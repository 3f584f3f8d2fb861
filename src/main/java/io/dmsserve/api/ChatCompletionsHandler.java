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

/** {@code POST /v1/chat/completions}, streamed (SSE) or whole. */
@Component
final class ChatCompletionsHandler {

    private final RequestBodies bodies;
    private final Prompts prompts;
    private final Generator generator;
    private final int maxN;

    ChatCompletionsHandler(RequestBodies bodies, Prompts prompts, Generator generator, ApiProperties properties) {
        this.bodies = bodies;
        this.prompts = prompts;
        this.generator = generator;
        this.maxN = properties.maxN();
    }

    Mono<ServerResponse> handle(ServerRequest request) {
        Ids ids = Ids.next("chatcmpl-"); // from the start, so every log line about the request can name it
        return bodies.read(request)
                .publishOn(Schedulers.parallel())
                .flatMap(body -> generate(body, ids))
                .onErrorResume(ApiException.class, error -> Responses.error(error, ids.id()));
    }

    private Mono<ServerResponse> generate(byte[] body, Ids ids) {
        ChatCompletionRequest chat = ChatCompletionRequest.parse(ApiJson.read(body), maxN);
        generator.checkModel(chat.model());
        int[] prompt = prompts.chat(chat.messages(), chat.templateKwargs());
        Generation generation = generator.start(prompt, chat.options(), "messages", ids.id());
        return chat.options().stream() ? stream(generation, chat.options(), ids) : whole(generation, ids);
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
                    List<ChatCompletion.Choice> choices = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        choices.add(new ChatCompletion.Choice(i,
                                new ChatCompletion.Message("assistant", collected.text(i)),
                                LogprobsBody.chat(collected.logprobs(i)),
                                collected.finishReason(i)));
                    }
                    return Responses.json(new ChatCompletion(ids.id(), ids.created(), generator.modelId(), choices,
                            collected.usage()));
                });
    }

    private Mono<ServerResponse> stream(Generation generation, SamplingOptions options, Ids ids) {
        Optional<UsageBody> noUsage = options.includeUsage() ? Optional.empty() : null;
        List<String> first = new ArrayList<>();
        for (int i = 0; i < generation.choices(); i++) {
            first.add(chunk(ids, i, new ChatCompletionChunk.Delta("assistant", ""), null, null, noUsage));
        }
        Flux<String> rest = generation.events().concatMapIterable(event -> {
            if (event instanceof GenerationEvent.Text t) {
                return List.of(chunk(ids, t.index(), new ChatCompletionChunk.Delta(null, t.text()),
                        LogprobsBody.chat(t.logprobs()), null, noUsage));
            } else if (event instanceof GenerationEvent.Finished f) {
                return List.of(chunk(ids, f.index(), new ChatCompletionChunk.Delta(null, null), null, f.reason(),
                        noUsage));
            } else if (event instanceof GenerationEvent.Done d) {
                return options.includeUsage()
                        ? List.of(ApiJson.writeString(new ChatCompletionChunk(ids.id(), ids.created(),
                                generator.modelId(), List.of(), Optional.of(UsageBody.of(d)))), Responses.DONE)
                        : List.of(Responses.DONE);
            }
            return List.of(ApiJson.writeString(((GenerationEvent.Failed) event).error().body()), Responses.DONE);
        });
        return Responses.sse(Flux.fromIterable(first).concatWith(rest)
                .doOnCancel(generation::cancel)
                .doOnError(e -> generation.cancel()));
    }

    private String chunk(Ids ids, int index, ChatCompletionChunk.Delta delta, Object logprobs, String finishReason,
            Optional<UsageBody> usage) {
        return ApiJson.writeString(new ChatCompletionChunk(ids.id(), ids.created(), generator.modelId(),
                List.of(new ChatCompletionChunk.Choice(index, delta, logprobs, finishReason)), usage));
    }
}
