package io.dmsserve.clients;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * The official {@code openai} npm package (pinned in src/test/node/package-lock.json) streams a chat
 * completion from the running server through src/test/node/stream.mjs, which prints a JSON summary of the
 * chunks it received. Node and npm are required (CI has them): without them this test fails, it does not
 * skip. {@code npm ci} runs once when node_modules is missing.
 */
class NodeOpenAiClientIT extends ClientTestSupport {

    private static final Path NODE_DIR = Path.of("src", "test", "node").toAbsolutePath();
    private static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void installOpenAiPackage() {
        assertThat(NODE_DIR.resolve("stream.mjs")).as("the Node client script").isRegularFile();
        Result node = run(List.of("node", "--version"), 30);
        assertThat(node.exitCode()).as("node --version: %s", node.output()).isZero();
        if (!Files.isRegularFile(NODE_DIR.resolve("node_modules/openai/package.json"))) {
            Result ci = run(List.of("npm", "ci", "--no-audit", "--no-fund"), 300);
            assertThat(ci.exitCode()).as("npm ci in %s:%n%s", NODE_DIR, ci.output()).isZero();
        }
    }

    @Test
    void officialNodeClientStreamsTheEnginesGreedyAnswer() {
        EngineOracle.Expected expected = oracle().chat(MESSAGES, MAX_TOKENS);

        Summary summary = streamWithNode(null);

        assertSummary(summary, expected);
        assertThat(summary.json().path("content_chunks").asInt()).as("content chunks: the answer must arrive in pieces; %s",
                summary.raw()).isGreaterThan(1);
    }

    @Test
    void officialNodeClientStreamStopsBeforeAStopString() {
        EngineOracle oracle = oracle();
        EngineOracle.StopCase stopCase = oracle.stopCase(oracle.chat(MESSAGES, MAX_TOKENS));

        Summary summary = streamWithNode(List.of(stopCase.stop()));

        assertSummary(summary, stopCase.expected());
    }

    @Test
    void officialNodeClientAssemblesAStreamedToolCall() {
        Map<String, Object> parameters = Map.of("type", "object", "properties", Map.of(
                "city", Map.of("type", "string", "enum", List.of("Paris", "Rome", "Oslo")),
                "days", Map.of("type", "integer", "format", "int32")), "required", List.of("city", "days"));
        Map<String, Object> request = new LinkedHashMap<>();
        request.put("model", model.id());
        request.put("messages", List.of(Map.of("role", "user", "content", "How warm is Rome in two days?")));
        request.put("tools", List.of(Map.of("type", "function", "function", Map.of("name", "forecast",
                "description", "The temperature in a city some days from now", "parameters", parameters))));
        request.put("tool_choice", "required");
        request.put("parallel_tool_calls", false);
        request.put("max_tokens", 600);
        request.put("temperature", 1);
        request.put("seed", 7);
        Result result = run(List.of("node", "tools.mjs", baseUrl(), JSON.writeValueAsString(request)), 120);
        assertThat(result.exitCode()).as(result.output()).isZero();
        System.out.println("Node SDK streamed tool call:\n" + result.output());
        String[] lines = result.output().strip().split("\n");
        JsonNode summary = JSON.readTree(lines[lines.length - 1]);
        assertThat(summary.path("finish_reason").asString()).as(result.output()).isEqualTo("tool_calls");
        assertThat(summary.path("calls").size()).as(result.output()).isEqualTo(1);
        JsonNode call = summary.path("calls").get(0);
        assertThat(call.path("id").asString()).matches("call_[A-Za-z0-9]{24}");
        assertThat(call.path("type").asString()).isEqualTo("function");
        assertThat(call.path("name").asString()).isEqualTo("forecast");
        JsonNode arguments = JSON.readTree(call.path("arguments").asString());
        assertThat(arguments.path("city").asString()).isIn("Paris", "Rome", "Oslo");
        assertThat(arguments.path("days").isIntegralNumber()).as(arguments.toString()).isTrue();
        assertThat(summary.path("content").asString()).isEmpty();
        assertThat(java.util.Arrays.stream(lines).filter(l -> l.startsWith("chunk ") && l.contains("tool_calls")).count())
                .as("the call arrives as deltas: name first, then the arguments").isGreaterThanOrEqualTo(2);
    }

    private record Summary(JsonNode json, String raw) {
    }

    private Summary streamWithNode(List<String> stop) {
        Map<String, Object> request = new LinkedHashMap<>();
        request.put("model", model.id());
        request.put("messages", List.of(Map.of("role", "system", "content", SYSTEM), Map.of("role", "user", "content", USER)));
        request.put("max_tokens", MAX_TOKENS);
        request.put("temperature", 0);
        if (stop != null) {
            request.put("stop", stop);
        }
        Result result = run(List.of("node", "stream.mjs", baseUrl(), JSON.writeValueAsString(request)), 120);
        if (result.exitCode() != 0) {
            fail("node stream.mjs exited with %d:%n%s", result.exitCode(), result.output());
        }
        String[] lines = result.output().strip().split("\n");
        String last = lines[lines.length - 1];
        try {
            return new Summary(JSON.readTree(last), result.output());
        } catch (RuntimeException e) {
            throw new AssertionError("node stream.mjs did not end with a JSON summary:\n" + result.output(), e);
        }
    }

    private void assertSummary(Summary summary, EngineOracle.Expected expected) {
        JsonNode json = summary.json();
        String context = "node summary " + summary.raw() + "expected " + expected;
        assertThat(json.path("text").asString()).as(context).isEqualTo(expected.text());
        assertThat(json.path("finish_reason").asString()).as(context).isEqualTo(expected.finishReason());
        JsonNode usage = json.path("usage");
        assertThat(usage.path("prompt_tokens").asInt(-1)).as("prompt_tokens; " + context).isEqualTo(expected.promptTokens());
        assertThat(usage.path("completion_tokens").asInt(-1)).as("completion_tokens; " + context)
                .isEqualTo(expected.completionTokens());
        assertThat(usage.path("total_tokens").asInt(-1)).as("total_tokens; " + context).isEqualTo(expected.totalTokens());
        // Framing as OpenAI streams it: role in the first delta, one id, chunk objects, the model's id,
        // the finish_reason chunk followed by exactly one usage chunk with empty choices, then [DONE].
        assertThat(json.path("role").asString()).as(context).isEqualTo("assistant");
        assertThat(strings(json.path("ids"))).as("distinct chunk ids; " + context).hasSize(1);
        assertThat(strings(json.path("objects"))).as(context).containsExactly("chat.completion.chunk");
        assertThat(strings(json.path("models"))).as(context).containsExactly(model.id());
        assertThat(json.path("usage_chunk_choices").asInt(-1)).as("choices in the usage chunk; " + context).isZero();
        assertThat(json.path("chunks_after_usage").asInt(-1)).as(context).isZero();
        assertThat(strings(json.path("chunks_after_finish"))).as("chunks after the finish_reason chunk; " + context)
                .containsExactly("usage");
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.values().forEach(v -> out.add(v.asString()));
        return out;
    }

    private record Result(int exitCode, String output) {
    }

    /** Runs a command in src/test/node, stdout and stderr together; fails on a missing binary or a timeout. */
    private static Result run(List<String> command, int timeoutSeconds) {
        ProcessBuilder builder = new ProcessBuilder(command).directory(NODE_DIR.toFile()).redirectErrorStream(true);
        builder.environment().put("OPENAI_API_KEY", API_KEY);
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new AssertionError("cannot run " + command + " (Node 20+ and npm must be on the PATH): "
                    + e.getMessage(), e);
        }
        ByteArrayOutputStream output = new ByteArrayOutputStream();
        Thread reader = new Thread(() -> copy(process.getInputStream(), output), "node-output");
        reader.start();
        try {
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                // npm runs node in a child of its own: end those too, or they keep the output pipe open.
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                reader.join(5_000);
                throw new AssertionError(command + " did not finish within " + timeoutSeconds + " s; output:\n"
                        + output.toString(StandardCharsets.UTF_8));
            }
            reader.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            throw new AssertionError("interrupted while running " + command, e);
        }
        synchronized (output) {
            return new Result(process.exitValue(), output.toString(StandardCharsets.UTF_8));
        }
    }

    private static void copy(InputStream in, ByteArrayOutputStream out) {
        byte[] buffer = new byte[8192];
        try (in) {
            for (int n; (n = in.read(buffer)) > 0;) {
                synchronized (out) {
                    out.write(buffer, 0, n);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
