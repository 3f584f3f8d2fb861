package io.dmsserve.api;

import io.dmsserve.sampling.TokenConstraint;
import org.springframework.stereotype.Component;

/** Decoding constraints of chat requests (structured outputs, forced tool calls). */
@Component
final class Constraints {

    /** A request's constraint, made fresh for each choice. */
    interface Plan {
        TokenConstraint constraint(boolean startsInReasoning);
    }

    Plan plan(ChatCompletionRequest chat) {
        return reasoning -> null;
    }
}
