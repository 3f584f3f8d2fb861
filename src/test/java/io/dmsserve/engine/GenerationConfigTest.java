package io.dmsserve.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GenerationConfigTest {

    @TempDir
    Path dir;

    @Test
    void qwen3GenerationConfig() throws Exception {
        GenerationConfig g = parse("""
                {"bos_token_id": 151643, "do_sample": true, "eos_token_id": [151645, 151643],
                 "pad_token_id": 151643, "temperature": 0.6, "top_k": 20, "top_p": 0.95}""");
        assertThat(g).isEqualTo(new GenerationConfig(List.of(151645, 151643), 0.6, 0.95, 20));
    }

    @Test
    void singleEosIdAndAbsentSamplingFields() throws Exception {
        assertThat(parse("{\"eos_token_id\": 2}")).isEqualTo(new GenerationConfig(List.of(2), null, null, null));
    }

    @Test
    void noEosId() throws Exception {
        assertThat(parse("{}").eosTokenIds()).isEmpty();
    }

    @Test
    void badEosEntry() {
        assertThatThrownBy(() -> parse("{\"eos_token_id\": [1, \"x\"]}")).isInstanceOf(CheckpointException.class)
                .hasMessage("generation_config.json: field 'eos_token_id' must be an integer, got \"x\"");
    }

    @Test
    void badTopP() {
        assertThatThrownBy(() -> parse("{\"top_p\": 1.5}")).isInstanceOf(CheckpointException.class)
                .hasMessage("generation_config.json: field 'top_p' must be in (0, 1], got 1.5");
    }

    private GenerationConfig parse(String json) throws Exception {
        Path file = dir.resolve("generation_config.json");
        Files.writeString(file, json);
        return GenerationConfig.parse(file);
    }
}
