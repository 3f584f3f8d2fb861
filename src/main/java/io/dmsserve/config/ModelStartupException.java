package io.dmsserve.config;

/**
 * A setting that cannot work with this model or machine, found at start-up: reported as one clear
 * description naming the property and the limit, with what to do, and no stack trace
 * ({@link ModelStartupFailureAnalyzer}).
 */
public final class ModelStartupException extends RuntimeException {

    private final String action;

    public ModelStartupException(String description, String action) {
        super(description);
        this.action = action;
    }

    public String action() {
        return action;
    }
}
