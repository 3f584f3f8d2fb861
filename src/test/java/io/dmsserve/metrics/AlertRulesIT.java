package io.dmsserve.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The alert rules and the example scrape configuration under observability/prometheus, through Prometheus's own
 * tools: {@code promtool check rules}, {@code promtool test rules} (each alert fires when it should and stays
 * quiet when it should not, observability/prometheus/alerts_test.yml), {@code promtool check config}.
 */
class AlertRulesIT {

    private static final Path PROMETHEUS = Tools.OBSERVABILITY.resolve("prometheus");

    @Test
    void theRulesAreValid() throws Exception {
        String out = promtool("check", "rules", "alerts.yml");
        assertThat(out).contains("SUCCESS: 6 rules found");
    }

    @Test
    void theRulesPassTheirUnitTests() throws Exception {
        String out = promtool("test", "rules", "alerts_test.yml");
        assertThat(out).contains("SUCCESS");
    }

    @Test
    void aWrongExpectationFailsTheUnitTests() throws Exception {
        // The unit tests can fail: the same file, expecting the pool alert on the instance with nobody waiting.
        String tests = Files.readString(PROMETHEUS.resolve("alerts_test.yml"));
        String wrong = tests.replaceFirst("instance: \"a:8080\", job: dms-serve, model: m\\}",
                "instance: \"b:8080\", job: dms-serve, model: m}");
        assertThat(wrong).isNotEqualTo(tests);
        Path directory = Files.createTempDirectory("dms-alerts");
        Path rules = Files.copy(PROMETHEUS.resolve("alerts.yml"), directory.resolve("alerts.yml"));
        Path file = Files.writeString(directory.resolve("alerts_test.yml"), wrong);
        try {
            Result result = run(directory, Tools.require("promtool"), "test", "rules", file.toString());
            assertThat(result.exit).as(result.out).isNotZero();
            assertThat(result.out).contains("FAILED").contains("DmsKvPoolNearlyFull");
        } finally {
            Files.delete(file);
            Files.delete(rules);
            Files.delete(directory);
        }
    }

    @Test
    void theExampleScrapeConfigurationIsValid() throws Exception {
        String out = promtool("check", "config", "prometheus.yml");
        assertThat(out).contains("is valid prometheus config file syntax").contains("SUCCESS: 6 rules found");
    }

    private static String promtool(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(args));
        command.add(0, Tools.require("promtool"));
        Result result = run(PROMETHEUS, command.toArray(String[]::new));
        assertThat(result.exit).as("%s:%n%s", String.join(" ", command), result.out).isZero();
        return result.out;
    }

    private static Result run(Path directory, String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).directory(directory.toFile()).redirectErrorStream(true).start();
        byte[] out = process.getInputStream().readAllBytes();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not end within 60 s");
        }
        return new Result(process.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    private record Result(int exit, String out) {
    }
}
