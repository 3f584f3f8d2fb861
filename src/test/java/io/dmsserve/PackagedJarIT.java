package io.dmsserve;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
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
 * minute on the embedded model, and {@code inspect --json} reproduces the golden files of the independent
 * reference (tools/golden/make_golden.py).
 */
class PackagedJarIT {

    private static final Path JAR = Path.of("target/dms-serve.jar");
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    @Test
    void serviceAnswersHealthWithinAMinute() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
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
                            URI.create("http://127.0.0.1:" + port + "/actuator/health")).timeout(Duration.ofSeconds(2))
                            .build(), HttpResponse.BodyHandlers.ofString());
                    if (response.statusCode() == 200) {
                        body = response.body();
                        break;
                    }
                } catch (IOException notYet) {
                    Thread.sleep(250);
                }
            }
            assertThat(body).as("health within 60 s; server log:\n" + Files.readString(log))
                    .contains("\"status\":\"UP\"").contains("tiny-qwen3-dms");
        } finally {
            server.destroy();
            server.waitFor(10, TimeUnit.SECONDS);
            server.destroyForcibly();
            Files.deleteIfExists(log);
        }
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
            Process process = new ProcessBuilder(command).start();
            String out = new String(process.getInputStream().readAllBytes());
            String err = new String(process.getErrorStream().readAllBytes());
            assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(process.exitValue()).as(err).isZero();
            JsonNode report = json.readTree(out);
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
                        .isCloseTo(expected.get(i).asDouble(), org.assertj.core.data.Offset.offset(1e-4 * scale));
            }
        }
    }

    private static String join(JsonNode ids) {
        List<String> out = new ArrayList<>();
        ids.forEach(id -> out.add(id.asString()));
        return String.join(",", out);
    }
}
