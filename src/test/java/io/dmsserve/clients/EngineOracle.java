package io.dmsserve.clients;

import io.dmsserve.config.ServingModel;
import io.dmsserve.sampling.SamplingParams;
import io.dmsserve.scheduler.FinishReason;
import io.dmsserve.scheduler.GenerationListener;
import io.dmsserve.scheduler.GenerationRequest;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.scheduler.Usage;
import io.dmsserve.tokenizer.ChatMessage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * What the server should answer, computed without HTTP: the chat template and tokenizer of the served
 * model, then the scheduler driven directly with greedy sampling. The client tests compare every client
 * library's view of a response with this.
 */
final class EngineOracle {

    /** The engine's answer to one request, in OpenAI terms. */
    record Expected(int[] tokenIds, String text, String finishReason, int promptTokens, int completionTokens) {

        int totalTokens() {
            return promptTokens + completionTokens;
        }

        @Override
        public String toString() {
            return "Expected[text=" + quote(text) + ", finishReason=" + finishReason + ", promptTokens="
                    + promptTokens + ", completionTokens=" + completionTokens + ", tokenIds="
                    + Arrays.toString(tokenIds) + "]";
        }
    }

    /** A Java string literal of text, non-ASCII and control characters escaped, for assertion messages. */
    static String quote(String text) {
        StringBuilder out = new StringBuilder("\"");
        text.chars().forEach(c -> out.append(c == '"' || c == '\\' ? "\\" + (char) c
                : c >= 0x20 && c < 0x7f ? String.valueOf((char) c) : String.format("\\u%04x", c)));
        return out.append('"').toString();
    }

    private final ServingModel model;
    private final Scheduler scheduler;

    EngineOracle(ServingModel model, Scheduler scheduler) {
        this.model = model;
        this.scheduler = scheduler;
    }

    String modelId() {
        return model.id();
    }

    /** A chat completion: the template with the generation prompt, no extra template arguments. */
    Expected chat(List<ChatMessage> messages, int maxTokens) {
        String prompt = model.tokenizer().chatTemplate().render(messages, true, Map.of());
        return generate(model.tokenizer().encode(prompt), maxTokens);
    }

    /** A text completion: the prompt tokenized as is. */
    Expected completion(String prompt, int maxTokens) {
        return generate(model.tokenizer().encode(prompt), maxTokens);
    }

    Expected generate(int[] promptTokens, int maxTokens) {
        Collector collector = new Collector();
        scheduler.submit(new GenerationRequest(promptTokens, maxTokens, SamplingParams.GREEDY,
                model.eosTokenIds(), null, null, collector));
        Usage usage;
        FinishReason reason;
        try {
            reason = collector.finished.get(120, TimeUnit.SECONDS);
            usage = collector.usage;
        } catch (Exception e) {
            throw new AssertionError("the engine did not finish a direct greedy generation", e);
        }
        int[] ids = collector.ids();
        // Special tokens are not part of the text a client sees (OpenAI and vLLM: skip_special_tokens).
        String text = model.tokenizer().decode(ids, true);
        return new Expected(ids, text, reason.name().toLowerCase(), usage.promptTokens(), usage.completionTokens());
    }

    /** A request with a stop string and what the server must answer to it. */
    record StopCase(String stop, Expected expected) {
    }

    /**
     * Picks a stop string from a greedy answer (the first run of three ASCII letters after the fourth
     * character that does not occur earlier) and derives the answer to the same request with that stop:
     * the text before its first occurrence, finish reason stop, and as completion tokens those generated
     * up to the one that completed the stop string.
     */
    StopCase stopCase(Expected full) {
        String text = full.text();
        for (int i = 4; i + 3 <= text.length(); i++) {
            String stop = text.substring(i, i + 3);
            if (stop.chars().allMatch(c -> c < 0x80 && Character.isLetter(c)) && text.indexOf(stop) == i) {
                for (int k = 1; k <= full.tokenIds().length; k++) {
                    int[] ids = Arrays.copyOf(full.tokenIds(), k);
                    if (model.tokenizer().decode(ids, true).contains(stop)) {
                        return new StopCase(stop, new Expected(ids, text.substring(0, i), "stop",
                                full.promptTokens(), k));
                    }
                }
            }
        }
        throw new AssertionError("no run of three ASCII letters in the greedy answer to pick as a stop string: "
                + full);
    }

    private static final class Collector implements GenerationListener {
        private final List<Integer> tokens = new ArrayList<>();
        final CompletableFuture<FinishReason> finished = new CompletableFuture<>();
        volatile Usage usage;

        @Override
        public synchronized boolean onToken(int tokenId) {
            tokens.add(tokenId);
            return true;
        }

        @Override
        public void onComplete(FinishReason reason, Usage usage) {
            this.usage = usage;
            finished.complete(reason);
        }

        @Override
        public void onError(RuntimeException error) {
            finished.completeExceptionally(error);
        }

        synchronized int[] ids() {
            return tokens.stream().mapToInt(Integer::intValue).toArray();
        }
    }
}
