package io.dmsserve.scheduler;

import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.sampling.SamplingParams;
import io.dmsserve.sampling.TokenConstraint;
import java.time.Duration;
import java.util.Set;

/**
 * One sequence to generate.
 *
 * @param maxTokens tokens to generate at most (the end-of-sequence token counts)
 * @param stopTokenIds tokens that end the sequence with {@link FinishReason#STOP}
 * @param deadline time allowed from submission; null for the scheduler's default
 * @param policy eviction policy; null for the server's default
 * @param requestId the client-facing id (e.g. {@code chatcmpl-…}) for log lines; null when there is none
 * @param constraint the allowed tokens at each step (structured outputs); null: every token
 */
public record GenerationRequest(int[] promptTokens, int maxTokens, SamplingParams sampling, Set<Integer> stopTokenIds,
        Duration deadline, EvictionPolicy policy, GenerationListener listener, String requestId,
        TokenConstraint constraint) {

    /** Without a constraint. */
    public GenerationRequest(int[] promptTokens, int maxTokens, SamplingParams sampling, Set<Integer> stopTokenIds,
            Duration deadline, EvictionPolicy policy, GenerationListener listener, String requestId) {
        this(promptTokens, maxTokens, sampling, stopTokenIds, deadline, policy, listener, requestId, null);
    }

    public GenerationRequest {
        if (promptTokens == null || promptTokens.length == 0) {
            throw new IllegalArgumentException("the prompt has no token");
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("max tokens must be at least 1, got " + maxTokens);
        }
        stopTokenIds = stopTokenIds == null ? Set.of() : Set.copyOf(stopTokenIds);
        if (sampling == null || listener == null) {
            throw new IllegalArgumentException("sampling and listener are required");
        }
    }

    /** Without a request id. */
    public GenerationRequest(int[] promptTokens, int maxTokens, SamplingParams sampling, Set<Integer> stopTokenIds,
            Duration deadline, EvictionPolicy policy, GenerationListener listener) {
        this(promptTokens, maxTokens, sampling, stopTokenIds, deadline, policy, listener, null, null);
    }
}
