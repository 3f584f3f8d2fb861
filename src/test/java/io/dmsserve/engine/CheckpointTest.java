package io.dmsserve.engine;

import io.dmsserve.dms.DmsSettings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class CheckpointTest {

    @TempDir
    Path dir;

    private final TinyCheckpoint tiny = new TinyCheckpoint();

    @ParameterizedTest
    @EnumSource(DType.class)
    void loadsSingleFileCheckpoint(DType dtype) {
        tiny.dtype = dtype;
        try (Checkpoint ckpt = Checkpoint.open(tiny.writeTo(dir))) {
            ModelConfig c = ckpt.config();
            assertThat(c.hiddenSize()).isEqualTo(8);
            assertThat(c.numLayers()).isEqualTo(2);
            assertThat(c.groupSize()).isEqualTo(2);
            assertThat(c.isDms()).isFalse();
            assertThat(ckpt.tensorNames()).hasSize(1 + 2 * 11 + 2);
            assertThat(ckpt.weightFiles()).containsExactly(dir.resolve("model.safetensors"));
            assertThat(ckpt.tokenizerJson()).isEqualTo(dir.resolve("tokenizer.json"));
            assertThat(ckpt.tokenizerConfigJson()).isEqualTo(dir.resolve("tokenizer_config.json"));
            assertThat(ckpt.generationConfig()).isEmpty();
            assertAllValues(ckpt, dtype);
        }
    }

    @Test
    void loadsShardedCheckpoint() {
        tiny.shards = 3;
        try (Checkpoint ckpt = Checkpoint.open(tiny.writeTo(dir))) {
            assertThat(ckpt.weightFiles()).containsExactly(dir.resolve("model.safetensors.index.json"),
                    dir.resolve("model-00001-of-00003.safetensors"), dir.resolve("model-00002-of-00003.safetensors"),
                    dir.resolve("model-00003-of-00003.safetensors"));
            assertThat(ckpt.tensorNames()).containsExactlyElementsOf(tiny.tensors().keySet());
            assertAllValues(ckpt, DType.BF16);
        }
    }

    @Test
    void tiedEmbeddingsServeAsLmHead() {
        tiny.tied = true;
        try (Checkpoint ckpt = Checkpoint.open(tiny.writeTo(dir))) {
            assertThat(ckpt.has("lm_head.weight")).isFalse();
            assertThat(ckpt.lmHead().name()).isEqualTo("model.embed_tokens.weight");
        }
    }

    @Test
    void untiedModelUsesItsLmHead() {
        try (Checkpoint ckpt = Checkpoint.open(tiny.writeTo(dir))) {
            assertThat(ckpt.lmHead().name()).isEqualTo("lm_head.weight");
        }
    }

    @Test
    void untiedModelWithoutLmHeadFails() {
        tiny.omitted.add("lm_head.weight");
        tiny.writeTo(dir);
        assertFails("model.safetensors: tensor 'lm_head.weight' is missing", "tie_word_embeddings is false");
    }

    @Test
    void readsDmsSettingsAndGenerationConfig() throws Exception {
        tiny.dms = true;
        tiny.writeTo(dir);
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": [2, 3], \"temperature\": 0.6}");
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            assertThat(ckpt.config().dms()).isEqualTo(new DmsSettings(4, 100.0, 5.0, 8));
            assertThat(ckpt.generationConfig()).hasValue(new GenerationConfig(List.of(2, 3), 0.6, null, null));
        }
    }

    @Test
    void ignoresUnknownExtraTensors() {
        tiny.extraTensors.put("model.rotary_emb.inv_freq", new long[] {2});
        try (Checkpoint ckpt = Checkpoint.open(tiny.writeTo(dir))) {
            assertThat(ckpt.has("model.rotary_emb.inv_freq")).isTrue();
        }
    }

    @Test
    void tensorsSplitOverSeveralMappingsReadTheSame() {
        tiny.dtype = DType.F32;
        tiny.writeTo(dir);
        // 100-byte mappings hold two or three rows of these f32 matrices, so most tensors span several buffers.
        try (Checkpoint whole = Checkpoint.open(dir); Checkpoint split = Checkpoint.open(dir, 100)) {
            Tensor a = whole.tensor("model.layers.1.mlp.down_proj.weight");
            Tensor b = split.tensor("model.layers.1.mlp.down_proj.weight");
            float[] x = new float[a.cols()];
            for (int j = 0; j < x.length; j++) {
                x[j] = j - 5.5f;
            }
            for (int r = 0; r < a.rows(); r++) {
                assertThat(b.dotRow(r, x, 0)).isEqualTo(a.dotRow(r, x, 0));
            }
            for (long i = 0; i < a.numel(); i++) {
                assertThat(b.get(i)).isEqualTo(a.get(i));
            }
            assertAllValues(split, DType.F32);
        }
    }

    @Test
    void absentTensorIsAnError() {
        try (Checkpoint ckpt = Checkpoint.open(tiny.writeTo(dir))) {
            assertThat(ckpt.has("nope")).isFalse();
            assertThatThrownBy(() -> ckpt.tensor("nope")).isInstanceOf(CheckpointException.class)
                    .hasMessage("model.safetensors: tensor 'nope' not found (searched model.safetensors)");
        }
    }

    @Test
    void closedCheckpointHandsOutNoTensors() {
        Checkpoint ckpt = Checkpoint.open(tiny.writeTo(dir));
        Tensor norm = ckpt.tensor("model.norm.weight");
        ckpt.close();
        assertThatThrownBy(() -> ckpt.tensor("model.norm.weight")).isInstanceOf(IllegalStateException.class);
        assertThat(norm.get(0)).isEqualTo(TinyCheckpoint.value("model.norm.weight", 0));
    }

    // ---- one test per defect: the message names the file and the tensor or field ----

    @Test
    void missingDirectory() {
        assertThatThrownBy(() -> Checkpoint.open(dir.resolve("absent"))).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("absent").hasMessageContaining("checkpoint directory not found");
    }

    @Test
    void missingConfigJson() throws Exception {
        Files.delete(tiny.writeTo(dir).resolve("config.json"));
        assertFails("config.json: not found in " + dir);
    }

    @Test
    void missingTokenizerJson() throws Exception {
        Files.delete(tiny.writeTo(dir).resolve("tokenizer.json"));
        assertFails("tokenizer.json: not found in " + dir);
    }

    @Test
    void missingTokenizerConfigJson() throws Exception {
        Files.delete(tiny.writeTo(dir).resolve("tokenizer_config.json"));
        assertFails("tokenizer_config.json: not found in " + dir);
    }

    @Test
    void missingWeightsFile() throws Exception {
        Files.delete(tiny.writeTo(dir).resolve("model.safetensors"));
        assertFails("model.safetensors: not found in " + dir + ", and neither is model.safetensors.index.json");
    }

    @Test
    void pytorchWeightsAreNamedAsUnsupported() throws Exception {
        Files.delete(tiny.writeTo(dir).resolve("model.safetensors"));
        Files.writeString(dir.resolve("pytorch_model.bin"), "");
        assertFails("model.safetensors: not found", "found pytorch_model.bin; only safetensors weights are supported");
    }

    @Test
    void missingShard() throws Exception {
        tiny.shards = 2;
        Files.delete(tiny.writeTo(dir).resolve("model-00002-of-00002.safetensors"));
        assertFails("model.safetensors.index.json: weight_map sends tensor '", "to shard model-00002-of-00002.safetensors, which is not in");
    }

    @Test
    void shardOutsideTheDirectory() throws Exception {
        tiny.shards = 2;
        tiny.writeTo(dir);
        TinyCheckpoint.writeIndex(dir, Map.of("model.norm.weight", "../model-00001-of-00002.safetensors"));
        assertFails("model.safetensors.index.json: field 'weight_map' entry for tensor 'model.norm.weight'");
    }

    @Test
    void unsupportedArchitecture() {
        tiny.configOverrides.put("architectures", List.of("LlamaForCausalLM"));
        tiny.writeTo(dir);
        assertFails("config.json: field 'architectures' names unsupported architecture [LlamaForCausalLM]"
                + " (supported: Qwen3ForCausalLM)");
    }

    @Test
    void unsupportedDtype() {
        tiny.writeTo(dir);
        RawSafetensors.editHeader(dir.resolve("model.safetensors"),
                h -> h.replace("\"model.norm.weight\":{\"dtype\":\"BF16\"", "\"model.norm.weight\":{\"dtype\":\"I8\""));
        assertFails("model.safetensors: tensor 'model.norm.weight' has unsupported dtype I8 (supported: BF16, F16, F32)");
    }

    @Test
    void shapeContradictsConfig() {
        tiny.shards = 2;
        tiny.shapeOverrides.put("model.layers.1.mlp.up_proj.weight", new long[] {6, 8});
        tiny.writeTo(dir);
        assertFails("model-00002-of-00002.safetensors: tensor 'model.layers.1.mlp.up_proj.weight' has shape [6, 8],"
                + " config.json says [12, 8]");
    }

    @Test
    void oneDimensionalShapeContradictsConfig() {
        tiny.shapeOverrides.put("model.layers.0.self_attn.q_norm.weight", new long[] {8});
        tiny.writeTo(dir);
        assertFails("model.safetensors: tensor 'model.layers.0.self_attn.q_norm.weight' has shape [8], config.json says [4]");
    }

    @Test
    void truncatedData() {
        tiny.writeTo(dir);
        RawSafetensors.truncate(dir.resolve("model.safetensors"), 3);
        // lm_head is the last tensor in the file.
        assertFails("model.safetensors: tensor 'lm_head.weight' needs data bytes", "(truncated?)");
    }

    @Test
    void headerIsNotValidJson() {
        tiny.writeTo(dir);
        RawSafetensors.editHeader(dir.resolve("model.safetensors"), h -> h.replaceFirst("\\{", "{,"));
        assertFails("model.safetensors: header is not valid JSON (line 1, column");
    }

    @Test
    void headerIsNotAnObject() {
        tiny.writeTo(dir);
        RawSafetensors.write(dir.resolve("model.safetensors"), "[1, 2]", new byte[0]);
        assertFails("model.safetensors: header is not a JSON object");
    }

    @Test
    void headerLengthLargerThanFile() {
        tiny.writeTo(dir);
        RawSafetensors.write(dir.resolve("model.safetensors"), 1000, "{}".getBytes(), new byte[0]);
        assertFails("model.safetensors: header length 1000 does not fit in the file (10 bytes)");
    }

    @Test
    void headerLengthOverTheLimit() throws Exception {
        tiny.writeTo(dir);
        long length = SafetensorsHeader.MAX_HEADER_BYTES + 1;
        try (var raf = new RandomAccessFile(dir.resolve("model.safetensors").toFile(), "rw")) {
            raf.setLength(8 + length); // sparse: no disk used
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(length).array());
        }
        assertFails("model.safetensors: header length 100000001 exceeds the limit of 100000000 bytes");
    }

    @Test
    void fileTooShortForHeaderLength() throws Exception {
        Files.write(tiny.writeTo(dir).resolve("model.safetensors"), new byte[] {1, 2, 3});
        assertFails("model.safetensors: is 3 bytes long, too short for a safetensors header");
    }

    @Test
    void dataOffsetsContradictShape() {
        tiny.writeTo(dir);
        RawSafetensors.editHeader(dir.resolve("model.safetensors"),
                h -> h.replace("\"model.norm.weight\":{\"dtype\":\"BF16\",\"shape\":[8]",
                        "\"model.norm.weight\":{\"dtype\":\"BF16\",\"shape\":[7]"));
        assertFails("model.safetensors: tensor 'model.norm.weight' has data_offsets", "but shape [7] of BF16 needs 14");
    }

    @Test
    void overlappingTensors() {
        tiny.writeTo(dir);
        // q_norm and k_norm of layer 0 have the same size; point k_norm at q_norm's bytes.
        RawSafetensors.editHeader(dir.resolve("model.safetensors"), h -> {
            String q = h.replaceAll("(?s).*\"model\\.layers\\.0\\.self_attn\\.q_norm\\.weight\":\\{[^}]*\"data_offsets\":(\\[[^]]*]).*", "$1");
            return h.replaceAll("(\"model\\.layers\\.0\\.self_attn\\.k_norm\\.weight\":\\{[^}]*\"data_offsets\":)\\[[^]]*]", "$1" + q);
        });
        assertFails("model.safetensors: tensors 'model.layers.0.self_attn.q_norm.weight' and"
                + " 'model.layers.0.self_attn.k_norm.weight' overlap");
    }

    @Test
    void duplicateTensorInOneFile() {
        tiny.writeTo(dir);
        RawSafetensors.editHeader(dir.resolve("model.safetensors"),
                h -> h.replace("\"model.layers.0.input_layernorm.weight\"", "\"model.norm.weight\""));
        assertFails("model.safetensors: duplicate tensor 'model.norm.weight' in the header");
    }

    @Test
    void duplicateKeyInsideAnEntry() {
        tiny.writeTo(dir);
        RawSafetensors.editHeader(dir.resolve("model.safetensors"),
                h -> h.replace("\"model.norm.weight\":{\"dtype\":\"BF16\"", "\"model.norm.weight\":{\"dtype\":\"BF16\",\"dtype\":\"F32\""));
        assertFails("model.safetensors: header is not valid JSON in the entry of tensor 'model.norm.weight'", "dtype");
    }

    @Test
    void duplicateTensorAcrossShards() throws Exception {
        tiny.writeTo(dir);
        Files.delete(dir.resolve("model.safetensors"));
        var all = tiny.tensors();
        SafetensorsWriter first = new SafetensorsWriter();
        SafetensorsWriter second = new SafetensorsWriter();
        Map<String, String> weightMap = new LinkedHashMap<>();
        all.forEach((name, shape) -> {
            boolean inFirst = name.startsWith("model.embed") || name.startsWith("model.layers.0.");
            tiny.add(inFirst ? first : second, name, shape);
            weightMap.put(name, TinyCheckpoint.shardName(inFirst ? 1 : 2, 2));
        });
        tiny.add(second, "model.layers.0.mlp.up_proj.weight", all.get("model.layers.0.mlp.up_proj.weight"));
        first.write(dir.resolve(TinyCheckpoint.shardName(1, 2)));
        second.write(dir.resolve(TinyCheckpoint.shardName(2, 2)));
        TinyCheckpoint.writeIndex(dir, weightMap);
        assertFails("model-00002-of-00002.safetensors: tensor 'model.layers.0.mlp.up_proj.weight' is also in"
                + " model-00001-of-00002.safetensors (duplicate tensor across shards)");
    }

    @Test
    void duplicateTensorInIndex() throws Exception {
        tiny.shards = 2;
        tiny.writeTo(dir);
        Path index = dir.resolve("model.safetensors.index.json");
        Files.writeString(index, Files.readString(index).replace("\"weight_map\":{",
                "\"weight_map\":{\"model.norm.weight\":\"model-00002-of-00002.safetensors\","));
        assertFails("model.safetensors.index.json: is not valid JSON", "model.norm.weight");
    }

    @Test
    void indexNamesTensorAbsentFromItsShard() throws Exception {
        tiny.shards = 2;
        tiny.writeTo(dir);
        Map<String, String> weightMap = new LinkedHashMap<>();
        tiny.tensors().keySet().forEach(n -> weightMap.put(n, TinyCheckpoint.shardName(1, 2)));
        weightMap.put("model.norm.weight", TinyCheckpoint.shardName(2, 2));
        weightMap.put("model.layers.1.mlp.down_proj.weight", TinyCheckpoint.shardName(1, 2));
        TinyCheckpoint.writeIndex(dir, weightMap);
        assertFails("model-00001-of-00002.safetensors: tensor '", "is not in this shard, although"
                + " model.safetensors.index.json says it is (it is in model-00002-of-00002.safetensors)");
    }

    @Test
    void missingTensor() {
        tiny.omitted.add("model.layers.1.mlp.up_proj.weight");
        tiny.writeTo(dir);
        assertFails("model.safetensors: tensor 'model.layers.1.mlp.up_proj.weight' is missing (searched model.safetensors)");
    }

    @Test
    void missingTensorInShardedCheckpointNamesEveryFileSearched() {
        tiny.shards = 2;
        tiny.omitted.add("model.layers.0.self_attn.k_norm.weight");
        tiny.writeTo(dir);
        assertFails("model.safetensors.index.json: tensor 'model.layers.0.self_attn.k_norm.weight' is missing (searched"
                + " model.safetensors.index.json, model-00001-of-00002.safetensors, model-00002-of-00002.safetensors)");
    }

    @Test
    void badConfigField() {
        tiny.configOverrides.put("num_attention_heads", "two");
        tiny.writeTo(dir);
        assertFails("config.json: field 'num_attention_heads' must be an integer, got \"two\"");
    }

    @Test
    void missingConfigField() {
        tiny.configOverrides.put("vocab_size", TinyCheckpoint.Remove.FIELD);
        tiny.writeTo(dir);
        assertFails("config.json: field 'vocab_size' is missing");
    }

    @Test
    void badGenerationConfig() throws Exception {
        tiny.writeTo(dir);
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": \"</s>\"}");
        assertFails("generation_config.json: field 'eos_token_id' must be an integer");
    }

    private void assertFails(String... messageParts) {
        var thrown = assertThatThrownBy(() -> Checkpoint.open(dir)).isInstanceOf(CheckpointException.class);
        thrown.hasMessageStartingWith(messageParts[0]);
        for (String part : messageParts) {
            thrown.hasMessageContaining(part);
        }
    }

    /** Every tensor holds TinyCheckpoint.value, through get, readRow and dotRow. */
    private void assertAllValues(Checkpoint ckpt, DType dtype) {
        tiny.tensors().forEach((name, shape) -> {
            Tensor t = ckpt.tensor(name);
            assertThat(t.dtype()).isEqualTo(dtype);
            assertThat(t.shape()).isEqualTo(shape);
            float[] row = new float[t.cols() + 1];
            for (int r = 0; r < t.rows(); r++) {
                t.readRow(r, row, 1);
                double expectedDot = 0;
                float[] x = new float[t.cols()];
                for (int c = 0; c < t.cols(); c++) {
                    long i = (long) r * t.cols() + c;
                    float v = TinyCheckpoint.value(name, i);
                    assertThat(t.get(i)).as("%s[%d]", name, i).isEqualTo(v);
                    assertThat(row[c + 1]).isEqualTo(v);
                    x[c] = c + 1;
                    expectedDot += (double) v * x[c];
                }
                assertThat(t.dotRow(r, x, 0)).isEqualTo((float) expectedDot);
            }
        });
    }
}
