package io.dmsserve.api;

/** What one request's sequences produce, in order, as one stream for all its choices. */
sealed interface GenerationEvent {

    /**
     * New text of choice {@code index} (never part of a stop string), and the logprobs of the tokens generated
     * since the last event when they were asked for (else null). The text may be empty when only logprobs are new.
     */
    record Text(int index, String text, java.util.List<TokenLogprob> logprobs) implements GenerationEvent {

        Text(int index, String text) {
            this(index, text, null);
        }
    }

    /** Choice {@code index} ended; reason is OpenAI's: "stop" or "length". */
    record Finished(int index, String reason) implements GenerationEvent {
    }

    /** The request failed (a choice failed or timed out); the last event. */
    record Failed(ApiException error) implements GenerationEvent {
    }

    /** Every choice finished; the last event. Prompt tokens counted once, completion tokens of all choices. */
    record Done(int promptTokens, int completionTokens, int reasoningTokens) implements GenerationEvent {

        Done(int promptTokens, int completionTokens) {
            this(promptTokens, completionTokens, 0);
        }

        int totalTokens() {
            return promptTokens + completionTokens;
        }
    }
}
