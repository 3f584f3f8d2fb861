package io.dmsserve.config;

import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/** Prints a {@link ModelStartupException} as Spring Boot's "APPLICATION FAILED TO START" report. */
final class ModelStartupFailureAnalyzer extends AbstractFailureAnalyzer<ModelStartupException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, ModelStartupException cause) {
        return new FailureAnalysis(cause.getMessage(), cause.action(), cause);
    }
}
