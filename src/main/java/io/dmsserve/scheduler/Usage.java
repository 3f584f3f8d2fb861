package io.dmsserve.scheduler;

/** Token counts of one sequence; completion tokens include a final end-of-sequence token. */
public record Usage(int promptTokens, int completionTokens) {

    public int totalTokens() {
        return promptTokens + completionTokens;
    }
}
