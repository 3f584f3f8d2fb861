package io.dmsserve.config;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

/**
 * {@code dms.api.*}: the OpenAI-compatible HTTP API under {@code /v1}.
 *
 * @param keys API keys accepted as "Authorization: Bearer KEY": each entry "sha256:" and the hex digest of the
 *     key, or the key itself (e.g. from DMS_API_KEYS, comma-separated); empty: the API is open
 * @param maxBodySize largest request body; larger ones get 413
 * @param maxN most choices (n) one request may ask for
 * @param retryAfter sent as Retry-After (whole seconds, at least 1) with 429 when the queue is full
 * @param enableThinking the chat template's enable_thinking when a request's chat_template_kwargs does not set it;
 *     empty: the template's own default (Qwen3: thinking on)
 * @param constrainedReasoningBudget under constrained decoding (a JSON response_format, tool_choice required or a
 *     named function) the most tokens a thinking model may reason before the end of thinking is forced
 */
@Validated
@ConfigurationProperties("dms.api")
public record ApiProperties(@DefaultValue List<String> keys, @DefaultValue("1MB") @NotNull DataSize maxBodySize,
        @DefaultValue("16") @Min(1) @Max(1024) int maxN, @DefaultValue("1s") @NotNull Duration retryAfter,
        Boolean enableThinking, @DefaultValue("1024") @Min(0) int constrainedReasoningBudget) {

    public ApiProperties {
        keys = keys == null ? List.of() : keys.stream().map(String::strip).filter(k -> !k.isEmpty()).toList();
        if (maxBodySize != null && (maxBodySize.toBytes() < 1 || maxBodySize.toBytes() > Integer.MAX_VALUE)) {
            throw new IllegalArgumentException("dms.api.max-body-size must be between 1B and 2GB, got " + maxBodySize);
        }
    }

    /** Retry-After in whole seconds, rounded up, at least 1. */
    public long retryAfterSeconds() {
        long seconds = retryAfter.toSeconds() + (retryAfter.getNano() > 0 ? 1 : 0);
        return Math.max(1, seconds);
    }
}
