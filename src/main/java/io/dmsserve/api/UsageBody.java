package io.dmsserve.api;

/** OpenAI's usage object. */
record UsageBody(int promptTokens, int completionTokens, int totalTokens) {

    static UsageBody of(GenerationEvent.Done done) {
        return new UsageBody(done.promptTokens(), done.completionTokens(), done.totalTokens());
    }
}
