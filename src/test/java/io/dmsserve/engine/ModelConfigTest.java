package io.dmsserve.engine;

import io.dmsserve.dms.DmsSettings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelConfigTest {

    @TempDir
    Path dir;

    @Test
    void parsesQwen3_8b() throws Exception {
        ModelConfig c = ModelConfig.parse(resource("qwen3-8b-config.json"));
        assertThat(c).isEqualTo(new ModelConfig("Qwen3ForCausalLM", 4096, 12288, 36, 32, 8, 128, 151936, 1e6, 1e-6,
                false, 40960, null));
        assertThat(c.groupSize()).isEqualTo(4);
        assertThat(c.qDim()).isEqualTo(4096);
        assertThat(c.kvDim()).isEqualTo(1024);
        assertThat(c.isDms()).isFalse();
    }

    @Test
    void parsesQwen3_8bDms() throws Exception {
        ModelConfig c = ModelConfig.parse(resource("qwen3-8b-dms-config.json"));
        assertThat(c.isDms()).isTrue();
        assertThat(c.dms()).isEqualTo(new DmsSettings(512, 100.0, 5.0, 8));
    }

    @Test
    void appliesQwen3ConfigDefaults() {
        Map<String, Object> c = minimal();
        ModelConfig parsed = parse(c);
        assertThat(parsed.headDim()).isEqualTo(8 / 2);
        assertThat(parsed.numKvHeads()).isEqualTo(2);
        assertThat(parsed.ropeTheta()).isEqualTo(10000.0);
        assertThat(parsed.rmsNormEps()).isEqualTo(1e-6);
        assertThat(parsed.tieWordEmbeddings()).isFalse();
        assertThat(parsed.maxPositionEmbeddings()).isEqualTo(32768);
        assertThat(parsed.dms()).isNull();
    }

    @Test
    void nullMeansDefaultForOptionalFields() {
        Map<String, Object> c = minimal();
        c.put("head_dim", null);
        c.put("num_key_value_heads", null);
        c.put("rope_scaling", null);
        assertThat(parse(c).headDim()).isEqualTo(4);
    }

    @Test
    void dmsCompressionRatioIsOptional() {
        Map<String, Object> c = minimal();
        c.put("dms_window_size", 16);
        c.put("dms_alpha_scale", 100);
        c.put("dms_initial_alpha_offset", 5);
        assertThat(parse(c).dms()).isEqualTo(new DmsSettings(16, 100.0, 5.0, 0));
    }

    @Test
    void ropeThetaFromTransformers5RopeParameters() {
        Map<String, Object> c = minimal();
        c.put("rope_parameters", Map.of("rope_type", "default", "rope_theta", 1000000.0));
        assertThat(parse(c).ropeTheta()).isEqualTo(1e6);
    }

    @Test
    void dmsWithoutAlphaScale() {
        Map<String, Object> c = minimal();
        c.put("dms_window_size", 512);
        c.put("dms_initial_alpha_offset", 5.0);
        assertFails(c, "config.json: field 'dms_alpha_scale' is missing");
    }

    @Test
    void dmsFieldsWithoutWindow() {
        Map<String, Object> c = minimal();
        c.put("dms_alpha_scale", 100.0);
        assertFails(c, "config.json: field 'dms_window_size' is missing although dms_alpha_scale is set");
    }

    @Test
    void dmsWindowMustBePositive() {
        Map<String, Object> c = minimal();
        c.put("dms_window_size", 0);
        c.put("dms_alpha_scale", 100.0);
        c.put("dms_initial_alpha_offset", 5.0);
        assertFails(c, "config.json: field 'dms_window_size' must be positive, got 0");
    }

    @Test
    void separateDmsAlphaIsUnsupported() {
        Map<String, Object> c = minimal();
        c.put("dms_separate_alpha", true);
        assertFails(c, "config.json: field 'dms_separate_alpha' is true");
    }

    @Test
    void missingArchitectures() {
        Map<String, Object> c = minimal();
        c.remove("architectures");
        assertFails(c, "config.json: field 'architectures' is missing (expected [\"Qwen3ForCausalLM\"])");
    }

    @Test
    void otherModelType() {
        Map<String, Object> c = minimal();
        c.put("model_type", "qwen2");
        assertFails(c, "config.json: field 'model_type' is 'qwen2', expected 'qwen3'");
    }

    @Test
    void ropeScalingIsUnsupported() {
        Map<String, Object> c = minimal();
        c.put("rope_scaling", Map.of("rope_type", "yarn", "factor", 4.0));
        assertFails(c, "config.json: field 'rope_scaling' is {", "RoPE scaling is not supported");
    }

    @Test
    void attentionBiasIsUnsupported() {
        Map<String, Object> c = minimal();
        c.put("attention_bias", true);
        assertFails(c, "config.json: field 'attention_bias' is true: attention biases are not supported");
    }

    @Test
    void slidingWindowIsUnsupported() {
        Map<String, Object> c = minimal();
        c.put("use_sliding_window", true);
        assertFails(c, "config.json: field 'use_sliding_window' is true");
    }

    @Test
    void otherActivationIsUnsupported() {
        Map<String, Object> c = minimal();
        c.put("hidden_act", "gelu");
        assertFails(c, "config.json: field 'hidden_act' is 'gelu': only 'silu' is supported");
    }

    @Test
    void headsMustBeAMultipleOfKvHeads() {
        Map<String, Object> c = minimal();
        c.put("num_attention_heads", 3);
        c.put("num_key_value_heads", 2);
        c.put("head_dim", 4);
        assertFails(c, "config.json: field 'num_key_value_heads' (2) must divide field 'num_attention_heads' (3)");
    }

    @Test
    void sizesMustBePositive() {
        Map<String, Object> c = minimal();
        c.put("intermediate_size", -1);
        assertFails(c, "config.json: field 'intermediate_size' must be positive, got -1");
    }

    @Test
    void fractionalInteger() {
        Map<String, Object> c = minimal();
        c.put("num_hidden_layers", 2.5);
        assertFails(c, "config.json: field 'num_hidden_layers' must be an integer, got 2.5");
    }

    @Test
    void nullRequiredField() {
        Map<String, Object> c = minimal();
        c.put("hidden_size", null);
        assertFails(c, "config.json: field 'hidden_size' is null");
    }

    @Test
    void headDimCannotBeDerived() {
        Map<String, Object> c = minimal();
        c.put("hidden_size", 10);
        c.put("num_attention_heads", 4);
        c.put("num_key_value_heads", 4);
        assertFails(c, "config.json: field 'head_dim' is missing and hidden_size 10 is not a multiple of num_attention_heads 4");
    }

    @Test
    void oddHeadDim() {
        Map<String, Object> c = minimal();
        c.put("head_dim", 5);
        assertFails(c, "config.json: field 'head_dim' must be even");
    }

    @Test
    void badNumber() {
        Map<String, Object> c = minimal();
        c.put("rope_theta", "1e6");
        assertFails(c, "config.json: field 'rope_theta' must be a number, got \"1e6\"");
    }

    @Test
    void invalidJson() throws Exception {
        Path file = dir.resolve("config.json");
        Files.writeString(file, "{\"hidden_size\": 8,\n \"hidden_size\": 9}");
        assertThatThrownBy(() -> ModelConfig.parse(file)).isInstanceOf(CheckpointException.class)
                .hasMessageStartingWith("config.json: is not valid JSON (line 2, column")
                .hasMessageContaining("hidden_size");
    }

    @Test
    void notAnObject() throws Exception {
        Path file = dir.resolve("config.json");
        Files.writeString(file, "[]");
        assertThatThrownBy(() -> ModelConfig.parse(file)).isInstanceOf(CheckpointException.class)
                .hasMessage("config.json: must hold a JSON object, found array []");
    }

    private static Map<String, Object> minimal() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("architectures", List.of("Qwen3ForCausalLM"));
        c.put("hidden_size", 8);
        c.put("intermediate_size", 12);
        c.put("num_hidden_layers", 2);
        c.put("num_attention_heads", 2);
        c.put("vocab_size", 16);
        return c;
    }

    private ModelConfig parse(Map<String, Object> config) {
        try {
            Path file = dir.resolve("config.json");
            Files.write(file, Json.MAPPER.writeValueAsBytes(config));
            return ModelConfig.parse(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void assertFails(Map<String, Object> config, String... messageParts) {
        var thrown = assertThatThrownBy(() -> parse(config)).isInstanceOf(CheckpointException.class)
                .hasMessageStartingWith(messageParts[0]);
        for (String part : messageParts) {
            thrown.hasMessageContaining(part);
        }
    }

    static Path resource(String name) throws URISyntaxException {
        return Path.of(ModelConfigTest.class.getResource("/loader/" + name).toURI());
    }
}
