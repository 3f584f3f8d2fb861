package io.dmsserve.api;

import io.dmsserve.chat.ChatOutputParser;
import io.dmsserve.config.ApiProperties;
import io.dmsserve.structured.GrammarConstraint;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.springframework.stereotype.Component;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * {@code POST /v1/chat/completions}, streamed (SSE) or whole; the answer split into reasoning, content and tool
 * calls by {@link ChatOutputs}, with decoding constrained by {@link Constraints} where the request asks for it.
 */
@Component
final class ChatCompletionsHandler {

    private final RequestBodies bodies;
    private final Prompts prompts;
    private final Generator generator;
    private final ChatOutputs outputs;
    private final Constraints constraints;
    private final int maxN;
    private final Boolean enableThinking;

    ChatCompletionsHandler(RequestBodies bodies, Prompts prompts, Generator generator, ChatOutputs outputs,
            Constraints constraints, ApiProperties properties) {
        this.bodies = bodies;
        this.prompts = prompts;
        this.generator = generator;
        this.outputs = outputs;
        this.constraints = constraints;
        this.maxN = properties.maxN();
        this.enableThinking = properties.enableThinking();
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
        Map<String, Object> kwargs = new LinkedHashMap<>(chat.templateKwargs());
        if (enableThinking != null) {
            kwargs.putIfAbsent("enable_thinking", enableThinking);
        }
        Constraints.Plan plan = constraints.plan(chat);
        Prompts.ChatPrompt prompt = prompts.chat(chat.messages(), chat.tools().tools(), kwargs);
        boolean reasoning = prompt.startsInReasoning();
        GrammarConstraint.Start start = !outputs.reasons() || prompt.thinkingClosed() ? GrammarConstraint.Start.GRAMMAR
                : reasoning ? GrammarConstraint.Start.THINKING : GrammarConstraint.Start.MAY_THINK;
        Generation generation = generator.start(prompt.tokens(), chat.options(), "messages", ids.id(),
                choice -> new ChoiceExtras(outputs.reasoningCounter(reasoning), plan.constraint(start)));
        List<ChatOutputParser> parsers = new ArrayList<>();
        for (int i = 0; i < generation.choices(); i++) {
            parsers.add(outputs.parser(reasoning, chat.tools()));
        }
        return chat.options().stream() ? stream(generation, chat.options(), parsers, ids)
                : whole(generation, parsers, ids);
    }

    private Mono<ServerResponse> whole(Generation generation, List<ChatOutputParser> parsers, Ids ids) {
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
                        ChatOutputs.Whole answer = ChatOutputs.whole(parsers.get(i), collected.text(i));
                        choices.add(new ChatCompletion.Choice(i,
                                new ChatCompletion.Message("assistant", answer.content(), answer.reasoning(),
                                        answer.calls()),
                                LogprobsBody.chat(collected.logprobs(i)),
                                finishReason(collected.finishReason(i), !answer.calls().isEmpty())));
                    }
                    return Responses.json(new ChatCompletion(ids.id(), ids.created(), generator.modelId(), choices,
                            collected.usage()));
                });
    }

    /** OpenAI's: a choice that called tools and stopped by itself finished with "tool_calls". */
    private static String finishReason(String reason, boolean calledTools) {
        return calledTools && "stop".equals(reason) ? "tool_calls" : reason;
    }

    private Mono<ServerResponse> stream(Generation generation, SamplingOptions options, List<ChatOutputParser> parsers,
            Ids ids) {
        Optional<UsageBody> noUsage = options.includeUsage() ? Optional.empty() : null;
        List<String> first = new ArrayList<>();
        for (int i = 0; i < generation.choices(); i++) {
            first.add(chunk(ids, i, new ChatCompletionChunk.Delta("assistant", ""), null, null, noUsage));
        }
        List<List<TokenLogprob>> held = new ArrayList<>();
        for (int i = 0; i < generation.choices(); i++) {
            held.add(new ArrayList<>());
        }
        Flux<String> rest = generation.events().concatMapIterable(event -> {
            if (event instanceof GenerationEvent.Text t) {
                if (t.logprobs() != null) {
                    held.get(t.index()).addAll(t.logprobs());
                }
                return chunks(ids, t.index(), parsers.get(t.index()).push(t.text()), held.get(t.index()), noUsage);
            } else if (event instanceof GenerationEvent.Finished f) {
                ChatOutputParser parser = parsers.get(f.index());
                List<String> out = new ArrayList<>(chunks(ids, f.index(), parser.finish(), held.get(f.index()),
                        noUsage));
                out.add(chunk(ids, f.index(), new ChatCompletionChunk.Delta(null, null), logprobs(held.get(f.index())),
                        finishReason(f.reason(), parser.calledTools()), noUsage));
                return out;
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

    /** The chunks of one choice's parsed pieces; logprobs held so far go with the first of them. */
    private List<String> chunks(Ids ids, int index, List<ChatOutputParser.Piece> pieces, List<TokenLogprob> held,
            Optional<UsageBody> usage) {
        List<String> out = new ArrayList<>();
        for (ChatOutputParser.Piece piece : pieces) {
            if (piece instanceof ChatOutputParser.Content c) {
                out.add(chunk(ids, index, new ChatCompletionChunk.Delta(null, c.text()), logprobs(held), null, usage));
            } else if (piece instanceof ChatOutputParser.Reasoning r) {
                out.add(chunk(ids, index, new ChatCompletionChunk.Delta(null, null, r.text(), null), logprobs(held),
                        null, usage));
            } else if (piece instanceof ChatOutputParser.ToolCall call) {
                out.add(chunk(ids, index, new ChatCompletionChunk.Delta(null, null, null, List.of(
                        new ChatCompletionChunk.ToolCallDelta(call.index(), ChatOutputs.callId(), "function",
                                new ChatCompletion.Function(call.name(), "")))), logprobs(held), null, usage));
                out.add(chunk(ids, index, new ChatCompletionChunk.Delta(null, null, null, List.of(
                        new ChatCompletionChunk.ToolCallDelta(call.index(), null, null,
                                new ChatCompletion.Function(null, call.arguments())))), null, null, usage));
            }
        }
        return out;
    }

    /** The held logprobs as a chunk's logprobs object, and the hold emptied; null when none are held. */
    private static Object logprobs(List<TokenLogprob> held) {
        if (held.isEmpty()) {
            return null;
        }
        LogprobsBody.Chat body = LogprobsBody.chat(List.copyOf(held));
        held.clear();
        return body;
    }

    private String chunk(Ids ids, int index, ChatCompletionChunk.Delta delta, Object logprobs, String finishReason,
            Optional<UsageBody> usage) {
        return ApiJson.writeString(new ChatCompletionChunk(ids.id(), ids.created(), generator.modelId(),
                List.of(new ChatCompletionChunk.Choice(index, delta, logprobs, finishReason)), usage));
    }
}
