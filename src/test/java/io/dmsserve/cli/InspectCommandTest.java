package io.dmsserve.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

class InspectCommandTest {

    private static final String MODEL = "src/test/resources/golden/tiny-qwen3-dms";

    private record Run(int code, String out, String err) {
    }

    private static Run inspect(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = InspectCommand.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void jsonReportHasEveryField() {
        Run run = inspect("--model", MODEL, "--token-ids", "5,6,7,8", "--max-new-tokens", "30", "--json");
        assertThat(run.code()).as(run.err()).isZero();
        JsonNode report = JsonMapper.builder().build().readTree(run.out());
        assertThat(report.get("greedy")).hasSize(30);
        assertThat(report.get("last_logits")).hasSize(512);
        assertThat(report.get("decisions")).hasSize(3);
        assertThat(report.get("decisions").get(0)).hasSize(2);
        assertThat(report.get("kv_live").get(2).get(1).asInt()).isBetween(17, 33);
        assertThat(report.get("evicted")).hasSize(3);
        assertThat(report.get("processed").asInt()).isEqualTo(33);
        assertThat(report.get("policy").asString()).isEqualTo("dms");
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
