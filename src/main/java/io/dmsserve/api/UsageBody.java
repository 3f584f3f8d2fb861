package io.dmsserve.api;

import com.fasterxml.jackson.annotation.JsonInclude;

/** OpenAI's usage object; {@code completion_tokens_details.reasoning_tokens} only when the answer reasoned. */
record UsageBody(int promptTokens, int completionTokens, int totalTokens,
        @JsonInclude(JsonInclude.Include.NON_NULL) Details completionTokensDetails) {

    record Details(int reasoningTokens) {
    }

    static UsageBody of(GenerationEvent.Done done) {
        return new UsageBody(done.promptTokens(), done.completionTokens(), done.totalTokens(),
                done.reasoningTokens() > 0 ? new Details(done.reasoningTokens()) : null);
    }
}
