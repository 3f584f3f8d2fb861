package io.dmsserve;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.tools.HostTools;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The packaged jar as a user runs it, in real processes: the service comes up on its port within a
 * minute on the embedded model, refuses a KV cache its heap cannot hold with one clear message, and
 * {@code inspect --json} reproduces the golden files of the independent reference (tools/golden/make_golden.py).
 */
class PackagedJarIT {

    private static final Path JAR = Path.of("target/dms-serve.jar");
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    /** A finished child process: what it printed on each stream, read after it ended. */
    record Run(int exit, String out, String err) {
    }

    /** Runs a command to its end, or kills it at the timeout (then the test fails, naming what it printed). */
    static Run run(List<String> command, Duration timeout) throws Exception {
        Path out = Files.createTempFile("dms-serve-out", ".log");
        Path err = Files.createTempFile("dms-serve-err", ".log");
        try {
            Process process = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile())
                    .start();
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                throw new AssertionError(command + " did not end within " + timeout + "; it printed:\n"
                        + Files.readString(out) + Files.readString(err));
            }
            return new Run(process.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }


    @Test
    void serviceAnswersHealthWithinAMinute() throws Exception {
        int port = HostTools.freePort();
        Path log = Files.createTempFile("dms-serve", ".log");
        Process server = new ProcessBuilder(JAVA, "-jar", JAR.toString(), "--server.port=" + port,
                "--server.address=127.0.0.1").redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            HttpClient client = HttpClient.newHttpClient();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            String body = null;
            while (System.nanoTime() < deadline && server.isAlive()) {
                try {
                    HttpResponse<String> response = client.send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + port + "/actuator/health/readiness"))
                            .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
                    if (response.statusCode() == 200) {
                        body = response.body();
                        break;
                    }
                } catch (IOException notYet) {
                    Thread.sleep(250);
                }
            }
            assertThat(body).as("ready within 60 s; server log:\n" + Files.readString(log))
                    .isEqualTo("{\"status\":\"UP\"}");
            String models = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/models"))
                    .build(), HttpResponse.BodyHandlers.ofString()).body();
            assertThat(models).contains("\"id\":\"tiny-qwen3-dms\"");
            assertThat(Files.readString(log)).as("a CPU-only start probes no GPU aloud")
                    .doesNotContain("Failed to detect GPU").doesNotContain("WARN");
        } finally {
            server.destroy();
            server.waitFor(10, TimeUnit.SECONDS);
            server.destroyForcibly();
            Files.deleteIfExists(log);
        }
    }

    /**
     * Tried as a new user would: a KV cache larger than the heap used to die with an OutOfMemoryError stack
     * trace from bean creation. Now the start is refused with one description naming the property and the
     * limit, and what to do.
     */
    @Test
    void aKvCacheLargerThanTheHeapIsRefusedWithOneClearMessage() throws Exception {
        Run run = run(List.of(JAVA, "-Xmx256m", "-jar", JAR.toString(), "--server.port=" + HostTools.freePort(),
                "--server.address=127.0.0.1", "--dms.kv-cache.memory=1GB"), Duration.ofSeconds(60));
        String printed = run.out() + run.err();
        assertThat(run.exit()).as(printed).isNotZero();
        assertThat(printed).contains("APPLICATION FAILED TO START")
                .containsPattern("dms\\.kv-cache\\.memory=1024MB does not fit: the cpu backend keeps the KV cache in"
                        + " the Java heap, where it may take at most 80% of the \\d+MB free, \\d+MB")
                .contains("Lower dms.kv-cache.memory to at most")
                .doesNotContain("OutOfMemoryError").doesNotContain("\tat ");
    }

    @Test
    void inspectReproducesTheGoldenFiles() throws Exception {
        Path model = Path.of("src/test/resources/golden/tiny-qwen3-dms");
        JsonMapper json = JsonMapper.builder().build();
        for (JsonNode golden : json.readTree(model.resolve("golden.json").toFile()).get("cases")) {
            List<String> command = new ArrayList<>(List.of(JAVA, "-jar", JAR.toString(), "inspect", "--model",
                    model.toString(), "--token-ids", join(golden.get("prompt_ids")), "--max-new-tokens",
                    golden.get("max_new_tokens").asString(), "--policy", golden.get("policy").asString(),
                    "--threshold", golden.get("threshold").asString(), "--json"));
            Run run = run(command, Duration.ofSeconds(60));
            assertThat(run.exit()).as(run.err()).isZero();
            JsonNode report = json.readTree(run.out());
            String name = golden.get("name").asString();
            assertThat(report.get("greedy")).as(name).isEqualTo(golden.get("greedy"));
            assertThat(report.get("decisions")).as(name).isEqualTo(golden.get("decisions"));
            assertThat(report.get("kv_live")).as(name).isEqualTo(golden.get("kv_live"));
            assertThat(report.get("evicted")).as(name).isEqualTo(golden.get("evicted"));
            JsonNode expected = golden.get("prompt_logits").get(golden.get("prompt_logits").size() - 1);
            double scale = 1;
            for (JsonNode value : expected) {
                scale = Math.max(scale, Math.abs(value.asDouble()));
            }
            for (int i = 0; i < expected.size(); i++) {
                assertThat(report.get("last_logits").get(i).asDouble()).as(name + " logit " + i)
                        .isCloseTo(expected.get(i).asDouble(), org.assertj.core.data.Offset.offset(1e-5 * scale));
            }
        }
    }

    /**
     * A 2.6 GB checkpoint (sparse file: Qwen3-8B's widths, two layers, zero weights) runs in a JVM with a
     * 128 MB heap: weights are memory-mapped, never copied into the heap.
     */
    @Test
    void largeCheckpointRunsWithASmallHeap() throws Exception {
        Path dir = Files.createTempDirectory("sparse-qwen3");
        try {
            int hidden = 4096;
            int intermediate = 12288;
            int layers = 2;
            long vocab = 151936;
            Files.writeString(dir.resolve("config.json"), "{\"architectures\": [\"Qwen3ForCausalLM\"],"
                    + " \"model_type\": \"qwen3\", \"hidden_size\": 4096, \"intermediate_size\": 12288,"
                    + " \"num_hidden_layers\": 2, \"num_attention_heads\": 32, \"num_key_value_heads\": 8,"
                    + " \"head_dim\": 128, \"vocab_size\": 151936, \"rope_theta\": 1000000,"
                    + " \"rms_norm_eps\": 1e-6, \"max_position_embeddings\": 40960, \"tie_word_embeddings\": false}");
            Path tokenizer = Path.of("src/test/resources/golden/tiny-qwen3-dms");
            Files.copy(tokenizer.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
            Files.copy(tokenizer.resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
            StringBuilder header = new StringBuilder("{");
            long offset = 0;
            List<Object[]> tensors = new ArrayList<>();
            tensors.add(new Object[] {"model.embed_tokens.weight", new long[] {vocab, hidden}});
            tensors.add(new Object[] {"lm_head.weight", new long[] {vocab, hidden}});
            tensors.add(new Object[] {"model.norm.weight", new long[] {hidden}});
            for (int l = 0; l < layers; l++) {
                String p = "model.layers." + l + ".";
                tensors.add(new Object[] {p + "input_layernorm.weight", new long[] {hidden}});
                tensors.add(new Object[] {p + "post_attention_layernorm.weight", new long[] {hidden}});
                tensors.add(new Object[] {p + "self_attn.q_norm.weight", new long[] {128}});
                tensors.add(new Object[] {p + "self_attn.k_norm.weight", new long[] {128}});
                tensors.add(new Object[] {p + "self_attn.q_proj.weight", new long[] {4096, hidden}});
                tensors.add(new Object[] {p + "self_attn.k_proj.weight", new long[] {1024, hidden}});
                tensors.add(new Object[] {p + "self_attn.v_proj.weight", new long[] {1024, hidden}});
                tensors.add(new Object[] {p + "self_attn.o_proj.weight", new long[] {hidden, 4096}});
                tensors.add(new Object[] {p + "mlp.gate_proj.weight", new long[] {intermediate, hidden}});
                tensors.add(new Object[] {p + "mlp.up_proj.weight", new long[] {intermediate, hidden}});
                tensors.add(new Object[] {p + "mlp.down_proj.weight", new long[] {hidden, intermediate}});
            }
            for (Object[] tensor : tensors) {
                long[] shape = (long[]) tensor[1];
                long bytes = 2;
                for (long dim : shape) {
                    bytes *= dim;
                }
                header.append(header.length() > 1 ? "," : "").append('"').append(tensor[0]).append("\":{\"dtype\":")
                        .append("\"BF16\",\"shape\":").append(java.util.Arrays.toString(shape).replace(" ", ""))
                        .append(",\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
                offset += bytes;
            }
            header.append('}');
            while ((header.length() + 8) % 8 != 0) {
                header.append(' ');
            }
            byte[] json = header.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            try (java.io.RandomAccessFile file = new java.io.RandomAccessFile(dir.resolve("model.safetensors").toFile(),
                    "rw")) {
                file.write(java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                        .putLong(json.length).array());
                file.write(json);
                file.setLength(8 + json.length + offset); // sparse: no disk, reads as zeros
            }
            assertThat(offset).isGreaterThan(2_500_000_000L);
            Run run = run(List.of(JAVA, "-Xmx128m", "-jar", JAR.toString(), "inspect", "--model", dir.toString(),
                    "--token-ids", "1,2,3", "--max-new-tokens", "2", "--json"), Duration.ofSeconds(120));
            assertThat(run.exit()).as(run.err()).isZero();
            // All-zero weights give all-zero logits; argmax takes the lowest id.
            assertThat(JsonMapper.builder().build().readTree(run.out()).get("greedy").toString()).isEqualTo("[0,0]");
        } finally {
            try (var files = Files.list(dir)) {
                for (Path file : files.toList()) {
                    Files.delete(file);
                }
            }
            Files.delete(dir);
        }
    }

    private static String join(JsonNode ids) {
        List<String> out = new ArrayList<>();
        ids.forEach(id -> out.add(id.asString()));
        return String.join(",", out);
    }
}
