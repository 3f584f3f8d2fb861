package io.dmsserve.api;

import io.dmsserve.config.ServingModel;
import io.dmsserve.sampling.SamplingParams;
import io.dmsserve.scheduler.FinishReason;
import io.dmsserve.scheduler.GenerationListener;
import io.dmsserve.scheduler.GenerationRequest;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.scheduler.Usage;
import io.dmsserve.tokenizer.ChatMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Drives the scheduler directly, the reference the HTTP answers are checked against. */
final class Engine {

    record Result(int[] tokens, String text, FinishReason reason, Usage usage) {
    }

    private final ServingModel model;
    private final Scheduler scheduler;

    Engine(ServingModel model, Scheduler scheduler) {
        this.model = model;
        this.scheduler = scheduler;
    }

    int[] chatPrompt(String user, Map<String, Object> kwargs) {
        String text = model.tokenizer().chatTemplate().render(List.of(ChatMessage.of("user", user)), true, kwargs);
        return model.tokenizer().encode(text);
    }

    int[] textPrompt(String text) {
        return model.tokenizer().encode(text);
    }

    Result greedy(int[] prompt, int maxTokens) {
        return run(prompt, maxTokens, new SamplingParams(0, 1, 0, null));
    }

    /** Like the server: stops on the tokenizer's and generation_config's EOS ids, special tokens skipped in text. */
    Result run(int[] prompt, int maxTokens, SamplingParams sampling) {
        Set<Integer> stops = model.eosTokenIds();
        List<Integer> tokens = new ArrayList<>();
        CompletableFuture<Object[]> done = new CompletableFuture<>();
        scheduler.submit(new GenerationRequest(prompt, maxTokens, sampling, stops, null, null, new GenerationListener() {
            @Override
            public boolean onToken(int tokenId) {
                tokens.add(tokenId);
                return true;
            }

            @Override
            public void onComplete(FinishReason reason, Usage usage) {
                done.complete(new Object[] {reason, usage});
            }

            @Override
            public void onError(RuntimeException error) {
                done.completeExceptionally(error);
            }
        }));
        try {
            Object[] end = done.get(60, TimeUnit.SECONDS);
            int[] ids = tokens.stream().mapToInt(Integer::intValue).toArray();
            return new Result(ids, model.tokenizer().decode(ids, true), (FinishReason) end[0], (Usage) end[1]);
        } catch (Exception e) {
            throw new AssertionError("engine run failed", e);
        }
    }

    /** Text of each generated token alone (special tokens skipped), to find token boundaries in the text. */
    List<String> pieces(int[] tokens) {
        List<String> pieces = new ArrayList<>();
        var detokenizer = model.tokenizer().newDetokenizer(true);
        for (int id : tokens) {
            pieces.add(detokenizer.push(id));
        }
        return pieces;
    }
}
