package io.dmsserve.chat;

/**
 * Counts a choice's reasoning tokens (usage's {@code completion_tokens_details.reasoning_tokens}): from an opening
 * {@code <think>} as the first token (or from the start, when the prompt opened it) through {@code </think>}.
 * Token-level twin of {@link ChatOutputParser}'s reasoning span. Not thread-safe.
 */
public final class ReasoningTokens {

    private final int startId;
    private final int endId;
    private boolean inside;
    private boolean decided;
    private int count;

    /** @param startId id of {@code <think>}; endId of {@code </think>} */
    public ReasoningTokens(int startId, int endId, boolean startsInReasoning) {
        this.startId = startId;
        this.endId = endId;
        this.inside = startsInReasoning;
        this.decided = startsInReasoning;
    }

    public void accept(int token) {
        if (!decided) {
            decided = true;
            inside = token == startId;
        }
        if (inside) {
            count++;
            if (token == endId) {
                inside = false;
            }
        }
    }

    public int count() {
        return count;
    }
}
