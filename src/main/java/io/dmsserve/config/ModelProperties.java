package io.dmsserve.config;

import io.dmsserve.dms.PolicyKind;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * {@code dms.model.*}: which checkpoint to serve and how DMS treats it.
 *
 * @param path a Hugging Face checkpoint directory (config.json, *.safetensors, tokenizer.json,
 *     tokenizer_config.json); empty serves the small model embedded in the jar
 * @param name the model id clients use; defaults to the directory name
 * @param policy eviction policy: auto (dms for a DMS checkpoint, else none), dms (the learned decisions), none
 *     (keep every token)
 * @param threshold DMS decision threshold: a token is flagged when its decision logit is above it (0 as in the
 *     release); higher evicts less
 */
@Validated
@ConfigurationProperties("dms.model")
public record ModelProperties(String path, String name, @DefaultValue("auto") PolicyKind policy,
        @DefaultValue("0") float threshold) {
}
