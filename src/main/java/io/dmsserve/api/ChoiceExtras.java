package io.dmsserve.api;

import io.dmsserve.chat.ReasoningTokens;
import io.dmsserve.sampling.TokenConstraint;

/**
 * What one choice of a chat request carries besides text: its reasoning-token counter and its decoding constraint
 * (structured outputs, forced tool calls); null where there is none.
 */
record ChoiceExtras(ReasoningTokens reasoning, TokenConstraint constraint) {

    static final ChoiceExtras NONE = new ChoiceExtras(null, null);
}
