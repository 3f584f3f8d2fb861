package io.dmsserve.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.tools.HostTools;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.openshift.api.model.monitoring.v1.PrometheusRule;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The alert rules as the chart ships them (the PrometheusRule's spec, rendered by Helm and read back by fabric8)
 * through promtool: valid, and passing observability/prometheus/alerts_test.yml, the unit tests of the repository's
 * rules. Compose mounts the repository's file itself, which AlertRulesIT checks the same way.
 */
class HelmRulesIT {

    @Test
    void theChartsRulesPassPromtoolAndTheRulesUnitTests(@TempDir Path dir) throws Exception {
        PrometheusRule rule = Chart.render(Map.of("prometheusRule.enabled", true))
                .one(PrometheusRule.class, Chart.FULLNAME);
        Files.writeString(dir.resolve("alerts.yml"), new KubernetesSerialization().asYaml(rule.getSpec()));
        Files.copy(Path.of("observability/prometheus/alerts_test.yml"), dir.resolve("alerts_test.yml"));
        String promtool = HostTools.require("promtool", "install Debian's prometheus package (.ci/run does)");

        String check = Docker.check(new ProcessBuilder(promtool, "check", "rules", dir.resolve("alerts.yml").toString()),
                Duration.ofMinutes(1));
        assertThat(check).contains("SUCCESS: 6 rules found");
        // promtool resolves alerts_test.yml's rule_files against the test file's directory.
        String test = Docker.check(new ProcessBuilder(promtool, "test", "rules",
                dir.resolve("alerts_test.yml").toString()), Duration.ofMinutes(1));
        assertThat(test).contains("SUCCESS");
    }
}
