package io.dmsserve.api;

import io.dmsserve.config.ApiProperties;
import io.dmsserve.config.ServingModel;
import io.dmsserve.kvcache.KvCacheFullException;
import io.dmsserve.sampling.LogitBias;
import io.dmsserve.sampling.SamplingDefaults;
import io.dmsserve.sampling.SamplingParams;
import io.dmsserve.scheduler.GenerationRequest;
import io.dmsserve.scheduler.QueueFullException;
import io.dmsserve.scheduler.Scheduler;
import java.util.ArrayList;
import java.util.List;
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
    private final SamplingDefaults defaults;
    private final TokenPieces pieces;

    Generator(ServingModel model, Scheduler scheduler, ApiProperties properties) {
        this.model = model;
        this.scheduler = scheduler;
        this.properties = properties;
        this.defaults = model.defaults();
        this.pieces = new TokenPieces(model.tokenizer());
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
     * Submits the request's n sequences, all or none: when they do not all fit in the queue, the request gets
     * 429 and none of them runs.
     *
     * @param promptParam the parameter to blame when the prompt does not fit ("messages" or "prompt")
     * @param requestId the response's id, on every log line about the request
     */
    Generation start(int[] prompt, SamplingOptions options, String promptParam, String requestId) {
        return start(prompt, options, promptParam, requestId, choice -> ChoiceExtras.NONE);
    }

    /** @param extras each choice's reasoning counter and constraint (fresh per choice: they hold its state) */
    Generation start(int[] prompt, SamplingOptions options, String promptParam, String requestId,
            java.util.function.IntFunction<ChoiceExtras> extras) {
        int context = scheduler.contextLength();
        if (prompt.length == 0) {
            throw ApiException.invalidValue(promptParam, "the prompt has no tokens.");
        }
        if (prompt.length >= context) {
            throw ApiException.contextLengthExceeded(promptParam, context, prompt.length);
        }
        if (options.maxTokens() != null && (long) prompt.length + options.maxTokens() > context) {
            throw ApiException.completionTooLong(options.maxTokensParam(), promptParam, context, prompt.length,
                    options.maxTokens());
        }
        int maxTokens = options.maxTokens() != null ? options.maxTokens() : context - prompt.length;
        Generation generation = new Generation(options.n(), requestId);
        List<GenerationRequest> requests = new ArrayList<>(options.n());
        for (int i = 0; i < options.n(); i++) {
            ChoiceExtras choice = extras.apply(i);
            ChoiceListener listener = new ChoiceListener(i, generation, model.tokenizer().newDetokenizer(true),
                    options.stop(), options.topLogprobs() == null ? null : pieces, choice);
            requests.add(new GenerationRequest(prompt, maxTokens, sampling(options, i), model.eosTokenIds(), null, null,
                    listener, requestId, choice.constraint()));
        }
        try {
            scheduler.submitAll(requests).forEach(generation::add);
        } catch (QueueFullException e) {
            throw ApiException.queueFull("The server is at capacity: " + e.queued() + " requests are waiting",
                    properties.retryAfterSeconds());
        } catch (KvCacheFullException e) {
            throw ApiException.kvCacheExceeded(e.getMessage());
        } catch (IllegalStateException e) {
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
        return new SamplingParams(temperature, topP, topK, o.minP() != null ? o.minP() : 0,
                o.presencePenalty() != null ? o.presencePenalty() : 0,
                o.frequencyPenalty() != null ? o.frequencyPenalty() : 0,
                o.repetitionPenalty() != null ? o.repetitionPenalty() : 1, logitBias(o), seed,
                o.topLogprobs() != null ? o.topLogprobs() : -1);
    }

    private LogitBias logitBias(SamplingOptions o) {
        int vocab = model.tokenizer().vocabSize();
        for (int id : o.logitBias().keySet()) {
            if (id >= vocab) {
                throw ApiException.invalidValue("logit_bias", "token id " + id + " is out of the vocabulary (ids 0 to "
                        + (vocab - 1) + ").");
            }
        }
        return LogitBias.of(o.logitBias());
    }
}
