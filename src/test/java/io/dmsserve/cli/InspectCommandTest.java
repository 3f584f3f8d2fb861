package io.dmsserve.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

class InspectCommandTest {

    private static final String MODEL = "src/test/resources/golden/tiny-qwen3-dms";
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private record Run(int code, String out, String err) {
    }

    private static Run inspect(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = InspectCommand.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /**
     * The report of a golden case (tools/golden: Hugging Face transformers and an independent DMS
     * implementation) equals the golden file field by field; live slots also follow from the flagged positions by
     * the rule of DESIGN.md §3 (token k is gone iff flagged and k <= T - w - 2).
     */
    @Test
    void jsonReportOfAGoldenCaseMatchesTheGoldenFile() {
        JsonNode golden = JSON.readTree(Path.of(MODEL, "golden.json").toFile()).get("cases").get(0);
        assertThat(golden.get("name").asString()).isEqualTo("rand5_dms_t0");
        int window = JSON.readTree(Path.of(MODEL, "config.json").toFile()).get("dms_window_size").asInt();
        StringBuilder ids = new StringBuilder();
        golden.get("prompt_ids").values().forEach(id -> ids.append(ids.length() > 0 ? "," : "").append(id.asInt()));
        int newTokens = golden.get("max_new_tokens").asInt();

        Run run = inspect("--model", MODEL, "--token-ids", ids.toString(), "--max-new-tokens",
                Integer.toString(newTokens), "--json");

        assertThat(run.code()).as(run.err()).isZero();
        JsonNode report = JSON.readTree(run.out());
        int processed = golden.get("prompt_ids").size() + newTokens - 1;
        assertThat(report.get("processed").asInt()).isEqualTo(processed);
        assertThat(report.get("policy").asString()).isEqualTo("dms");
        assertThat(report.get("window").asInt()).isEqualTo(window);
        assertThat(report.get("prompt")).isEqualTo(golden.get("prompt_ids"));
        assertThat(report.get("greedy")).isEqualTo(golden.get("greedy"));
        assertThat(report.get("decisions")).isEqualTo(golden.get("decisions"));
        assertThat(report.get("kv_live")).isEqualTo(golden.get("kv_live"));
        assertThat(report.get("evicted")).isEqualTo(golden.get("evicted"));
        assertThat(report.get("last_logits")).hasSize(512);
        for (int l = 0; l < 3; l++) {
            long evicted = 0;
            for (int h = 0; h < 2; h++) {
                long gone = golden.get("decisions").get(l).get(h).values().stream()
                        .filter(k -> k.asInt() <= processed - window - 2).count();
                evicted += gone;
                assertThat(report.get("kv_live").get(l).get(h).asInt()).as("layer %d head %d", l, h)
                        .isEqualTo(processed - gone);
            }
            assertThat(report.get("evicted").get(l).asLong()).as("layer %d", l).isEqualTo(evicted);
        }
    }

    @Test
    void textAndChatPromptsUseTheModelsTokenizer() {
        Run plain = inspect("--model", MODEL, "--text", "hello world", "--max-new-tokens", "2", "--json");
        Run chat = inspect("--model", MODEL, "--text", "hello world", "--chat", "--no-thinking",
                "--max-new-tokens", "2", "--json");
        assertThat(plain.code()).as(plain.err()).isZero();
        assertThat(chat.code()).as(chat.err()).isZero();
        JsonNode chatPrompt = JsonMapper.builder().build().readTree(chat.out()).get("prompt");
        JsonNode plainPrompt = JsonMapper.builder().build().readTree(plain.out()).get("prompt");
        assertThat(chatPrompt.size()).isGreaterThan(plainPrompt.size() + 8);
        Run human = inspect("--model", MODEL, "--text", "hello", "--max-new-tokens", "3");
        assertThat(human.out()).contains("layer 0").contains("live per KV head");
    }

    @Test
    void policyNoneKeepsEverythingAndThresholdChangesDecisions() {
        JsonNode none = JsonMapper.builder().build().readTree(inspect("--model", MODEL, "--token-ids", "5,6,7,8",
                "--max-new-tokens", "40", "--policy", "none", "--json").out());
        assertThat(none.get("kv_live").get(0).get(0).asInt()).isEqualTo(43);
        assertThat(none.get("evicted").get(0).asInt()).isZero();
        JsonNode strict = JsonMapper.builder().build().readTree(inspect("--model", MODEL, "--token-ids", "5,6,7,8",
                "--max-new-tokens", "40", "--threshold", "1000", "--json").out());
        assertThat(strict.get("decisions").get(0).get(0)).isEmpty();
    }

    @Test
    void mistakesGetAMessageAndExitCodeTwo() {
        assertThat(inspect("--token-ids", "1").err()).contains("--model DIR is required").contains("usage:");
        assertThat(inspect("--model", MODEL, "--token-ids", "1,x").err()).contains("comma-separated integers");
        assertThat(inspect("--model", MODEL, "--token-ids", "1", "--max-new-tokens", "0").err())
                .contains("at least 1");
        assertThat(inspect("--model", MODEL, "--token-ids", "99999").err()).contains("outside the vocabulary");
        assertThat(inspect("--model", "/nonexistent", "--token-ids", "1").err()).contains("/nonexistent")
                .contains("not found");
        Run policy = inspect("--model", "src/test/resources/golden/tiny-qwen3", "--token-ids", "1", "--policy", "dms");
        assertThat(policy.code()).isEqualTo(2);
        assertThat(policy.err()).contains("needs a DMS checkpoint");
        assertThat(inspect("--model", MODEL, "--bogus").code()).isEqualTo(2);
    }
}
