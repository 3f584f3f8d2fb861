package io.dmsserve.api;

import io.dmsserve.config.ApiProperties;
import io.dmsserve.config.ServingModel;
import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.PolicyKind;
import io.dmsserve.sampling.SamplingDefaults;
import io.dmsserve.tokenizer.Tokenizer;
import java.nio.file.Path;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.TestComponent;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/**
 * The served model of the API slices: id {@value #ID}, the embedded model's tokenizer and chat template, no
 * weights (the scheduler is a test double), eos ids from its tokenizer_config.
 */
@TestConfiguration(proxyBeanMethods = false)
@EnableConfigurationProperties(ApiProperties.class)
class SliceModel {

    static final String ID = "tiny-qwen3-dms";
    static final Path DIR = Path.of("src/test/resources/golden/tiny-qwen3-dms");

    @Bean
    Tokenizer sliceTokenizer() {
        return Tokenizer.load(DIR.resolve("tokenizer.json"), DIR.resolve("tokenizer_config.json"));
    }

    @Bean
    ServingModel sliceServingModel(Tokenizer tokenizer) {
        return new ServingModel(ID, tokenizer, tokenizer.eosTokenIds(), SamplingDefaults.NONE,
                EvictionPolicies.create(PolicyKind.NONE, 0, null), "fake", true);
    }

    /**
     * A test-only endpoint under /v1 that accepts JSON only, so that Spring's own 415 (and 405 for an
     * annotated endpoint) reach the API's error mapping: the API's routes never answer 415 themselves, as they
     * parse any content type as JSON. A test component, so the full application contexts of the ITs, which
     * scan the test classpath too, leave it out.
     */
    @TestComponent
    @RestController
    static class JsonOnlyProbe {

        static final String PATH = "/v1/test-only/json";

        @PostMapping(path = PATH, consumes = MediaType.APPLICATION_JSON_VALUE)
        String echo(@RequestBody String body) {
            return body;
        }
    }
}
