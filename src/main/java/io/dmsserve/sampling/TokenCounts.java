package io.dmsserve.sampling;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * What the penalties of one sequence look at: which tokens its prompt holds, and how often each token was
 * generated. Kept by the backend from the tokens each step feeds it (a sampled token is fed back at the next
 * step, before the next draw), so the host never ships a history. Sparse: a few hundred entries, not a vocabulary.
 */
public final class TokenCounts {

    private final Set<Integer> prompt = new HashSet<>();
    private final Map<Integer, Integer> output = new HashMap<>();

    /** Counts a token fed at this position; positions below {@code promptLength} are the prompt's. */
    public void add(int token, int position, int promptLength) {
        if (position < promptLength) {
            prompt.add(token);
        } else {
            output.merge(token, 1, Integer::sum);
        }
    }

    int outputCount(int token) {
        return output.getOrDefault(token, 0);
    }

    /** Tokens in the prompt or the output: those the repetition penalty applies to. */
    Set<Integer> seen() {
        Set<Integer> seen = new HashSet<>(prompt);
        seen.addAll(output.keySet());
        return seen;
    }

    Map<Integer, Integer> output() {
        return output;
    }
}
