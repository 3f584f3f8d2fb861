package io.dmsserve.api;

import io.dmsserve.config.ApiProperties;
import io.dmsserve.config.ServingModel;
import io.dmsserve.engine.GenerationConfig;
import io.dmsserve.sampling.SamplingParams;
import io.dmsserve.scheduler.GenerationRequest;
import io.dmsserve.scheduler.QueueFullException;
import io.dmsserve.scheduler.Scheduler;
import java.util.List;
import java.util.Set;
import org.springframework.stereotype.Component;

/**
 * Turns a tokenized prompt and its options into running sequences: checks the context length, applies
 * the model's sampling defaults, submits one sequence per choice and maps the scheduler's refusals.
 */
@Component("apiGenerator")
final class Generator {

    private final ServingModel model;
    private final Scheduler scheduler;
    private final ApiProperties properties;
    private final Set<Integer> stopTokenIds;
    private final GenerationConfig defaults;

    Generator(ServingModel model, Scheduler scheduler, ApiProperties properties) {
        this.model = model;
        this.scheduler = scheduler;
        this.properties = properties;
        this.defaults = model.checkpoint().generationConfig()
                .orElse(new GenerationConfig(List.of(), null, null, null));
        this.stopTokenIds = model.eosTokenIds();
    }

    String modelId() {
        return model.id();
    }

    /** The served model when none is named; 404 for another one. */
    void checkModel(String requested) {
        if (requested != null && !requested.equals(model.id())) {
            throw ApiException.modelNotFound(requested);
        }
    }

    /**
     * Submits the request's n sequences. All or none: when the queue fills up half way, the ones already
     * submitted are cancelled and the request gets 429.
     *
     * @param promptParam the parameter to blame when the prompt does not fit ("messages" or "prompt")
     */
    Generation start(int[] prompt, SamplingOptions options, String promptParam) {
        int context = scheduler.contextLength();
        if (prompt.length == 0) {
            throw ApiException.invalidValue(promptParam, "the prompt has no tokens.");
        }
        if (prompt.length >= context) {
            throw ApiException.contextLengthExceeded(promptParam, context, prompt.length);
        }
        // Asking for more than fits is not an error: the sequence ends at the context length ("length").
        int maxTokens = Math.min(options.maxTokens() == null ? Integer.MAX_VALUE : options.maxTokens(),
                context - prompt.length);
        Generation generation = new Generation(options.n());
        try {
            for (int i = 0; i < options.n(); i++) {
                ChoiceListener listener = new ChoiceListener(i, generation, model.tokenizer().newDetokenizer(true),
                        options.stop());
                generation.add(scheduler.submit(new GenerationRequest(prompt, maxTokens, sampling(options, i),
                        stopTokenIds, null, null, listener)));
            }
        } catch (QueueFullException e) {
            generation.cancel();
            throw ApiException.queueFull("The server is at capacity: " + e.queued() + " requests are waiting",
                    properties.retryAfterSeconds());
        } catch (IllegalArgumentException e) {
            generation.cancel();
            throw ApiException.invalid(promptParam, null, e.getMessage());
        } catch (IllegalStateException e) {
            generation.cancel();
            throw ApiException.unavailable("The server cannot take requests now: " + e.getMessage());
        }
        return generation;
    }

    private SamplingParams sampling(SamplingOptions o, int choice) {
        double temperature = o.temperature() != null ? o.temperature()
                : defaults.temperature() != null ? defaults.temperature() : 1.0;
        double topP = o.topP() != null ? o.topP() : defaults.topP() != null ? defaults.topP() : 1.0;
        int topK = o.topK() != null ? o.topK() : defaults.topK() != null ? defaults.topK() : 0;
        Long seed = o.seed() == null ? null : o.seed() + choice;
        return new SamplingParams(temperature, topP, topK, seed);
    }
}
