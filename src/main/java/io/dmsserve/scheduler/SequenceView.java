package io.dmsserve.scheduler;

/**
 * One sequence as the admin dashboard lists it, read on the engine thread from the sequence and its KV
 * bookkeeping between two steps (nothing estimated). Carries no text: the prompt's token ids only when the
 * reader asked for them.
 *
 * @param state waiting, preempted (waiting again to be recomputed), prefill, decoding, or once ended the finish
 *     reason (stop, length, cancelled, timeout) or error
 * @param processed tokens in the KV cache (fed to the model)
 * @param liveTokens KV entries the sequence holds now, over layers and KV heads (at its end: just before release)
 * @param storedTokens KV entries it stored, evicted since or not: processed × layers × KV heads
 * @param pages pool pages it holds
 * @param promptTokens the prompt's token ids when asked for, else null
 */
public record SequenceView(long id, String requestId, String state, int promptLength, int generated, int processed,
        long liveTokens, long storedTokens, int pages, long submittedAtMillis, int[] promptTokens) {

    /** Stored over live entries: how much DMS compressed this sequence's cache; NaN while it holds nothing. */
    public double compression() {
        return liveTokens == 0 ? Double.NaN : (double) storedTokens / liveTokens;
    }

    SequenceView withoutPrompt() {
        return promptTokens == null ? this : new SequenceView(id, requestId, state, promptLength, generated, processed,
                liveTokens, storedTokens, pages, submittedAtMillis, null);
    }
}
