package io.dmsserve.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * docker/compose.yaml through Compose's own validation and interpolation ({@code docker compose config}, or
 * Debian's {@code docker-compose} 1.29 where the plugin is not installed): the file is valid, the GPU service
 * reserves GPUs with the device syntax, the CPU one is a profile of its own, and Prometheus and Grafana get the
 * repository's scrape configuration, alert rules and dashboards mounted, not copies. Starting the stack needs the
 * Prometheus and Grafana images from a registry, which CI cannot reach; the image of dms-serve itself is started
 * by DockerImageIT, and the mounted files are checked by AlertRulesIT (promtool) and ObservabilityIT.
 */
@Tag("docker")
class ComposeConfigIT {

    private static final Path COMPOSE = Path.of("docker/compose.yaml");

    @Test
    void theStackResolvesWithTheRepositorysObservabilityFiles() throws Exception {
        Map<String, Object> config = config(COMPOSE, Map.of("DMS_GPUS", "2", "DMS_MODEL_DIR", "/srv/models",
                "DMS_MODEL_PATH", "/models/Qwen3-8B-DMS-8x"));
        Map<String, Object> services = map(config, "services");
        assertThat(services).containsOnlyKeys("dms-serve", "dms-serve-cpu", "prometheus", "grafana");

        Map<String, Object> gpu = map(services, "dms-serve");
        assertThat(gpu.get("profiles")).isEqualTo(List.of("gpu"));
        Map<String, Object> device = list(map(map(map(gpu, "deploy"), "resources"), "reservations"), "devices").get(0);
        assertThat(device).containsEntry("driver", "nvidia");
        assertThat(device.get("capabilities")).isEqualTo(List.of("gpu"));
        assertThat(String.valueOf(device.get("count"))).isEqualTo("2");
        assertThat(map(map(gpu, "build"), "args")).containsEntry("VARIANT", "gpu");
        assertThat(map(map(gpu, "build"), "args").toString()).doesNotContain("cpu");
        assertThat(gpu.get("volumes").toString()).contains("/srv/models:/models:ro");
        assertThat(map(gpu, "environment")).containsEntry("DMS_MODEL_PATH", "/models/Qwen3-8B-DMS-8x");

        Map<String, Object> cpu = map(services, "dms-serve-cpu");
        assertThat(cpu.get("profiles")).isEqualTo(List.of("cpu"));
        assertThat(cpu).doesNotContainKey("deploy");
        assertThat(map(map(cpu, "build"), "args")).containsEntry("VARIANT", "cpu");
        assertThat(Path.of(String.valueOf(map(cpu, "build").get("context"))).toRealPath())
                .isEqualTo(Path.of("").toRealPath());

        // Prometheus: the repository's directory, so that prometheus.yml's rule_files finds alerts.yml beside it.
        Map<String, Object> prometheus = map(services, "prometheus");
        assertThat(mountSource(prometheus, "/etc/prometheus")).isEqualTo(Path.of("observability/prometheus")
                .toRealPath());
        assertThat(prometheus.get("command").toString()).contains("--config.file=/etc/prometheus/prometheus.yml")
                .contains("--web.listen-address=:9090");
        Map<String, Object> scrape = new Yaml().load(Files.readString(Path.of("observability/prometheus/prometheus.yml")));
        assertThat(scrape.get("rule_files")).isEqualTo(List.of("alerts.yml"));
        // The scrape target is localhost:8080, which reaches dms-serve because every service is on the host network.
        assertThat(Files.readString(Path.of("observability/prometheus/prometheus.yml"))).contains("localhost:8080");
        for (String name : List.of("dms-serve", "dms-serve-cpu", "prometheus", "grafana")) {
            assertThat(map(services, name)).as(name).containsEntry("network_mode", "host");
        }

        // Grafana: provisioning from docker/grafana, dashboards from the repository, the datasource at Prometheus.
        Map<String, Object> grafana = map(services, "grafana");
        assertThat(mountSource(grafana, "/etc/grafana/provisioning")).isEqualTo(Path.of("docker/grafana/provisioning")
                .toRealPath());
        assertThat(mountSource(grafana, "/var/lib/grafana/dashboards/dms-serve")).isEqualTo(
                Path.of("observability/grafana/dashboards").toRealPath());
        Map<String, Object> provider = list(new Yaml().load(Files.readString(
                Path.of("docker/grafana/provisioning/dashboards/dms-serve.yaml"))), "providers").get(0);
        assertThat(map(provider, "options")).containsEntry("path", "/var/lib/grafana/dashboards/dms-serve");
        Map<String, Object> datasource = list(new Yaml().load(Files.readString(
                Path.of("docker/grafana/provisioning/datasources/prometheus.yaml"))), "datasources").get(0);
        assertThat(datasource).containsEntry("type", "prometheus").containsEntry("url", "http://localhost:9090");
    }

    @Test
    void theProfilesAreGpuAndCpu() throws Exception {
        List<String> command = compose(COMPOSE);
        command.addAll(List.of("config", "--profiles"));
        String out = Docker.check(new ProcessBuilder(command), Duration.ofMinutes(1));
        assertThat(out.lines().map(String::strip).filter(l -> !l.isEmpty()).sorted().toList())
                .containsExactly("cpu", "gpu");
    }

    @Test
    void anInvalidFileIsRefused(@TempDir Path dir) throws Exception {
        // The validation above can fail: the same file with the device capabilities as a string, not a list.
        String text = Files.readString(COMPOSE);
        String broken = text.replace("capabilities: [gpu]", "capabilities: gpu");
        assertThat(broken).isNotEqualTo(text);
        Path file = Files.writeString(dir.resolve("compose.yaml"), broken);
        List<String> command = compose(file);
        command.add("config");
        Docker.Result result = Docker.run(new ProcessBuilder(command), Duration.ofMinutes(1));
        assertThat(result.exit()).as(result.out()).isNotZero();
        assertThat(result.out()).contains("capabilities");
    }

    private static Map<String, Object> config(Path file, Map<String, String> env) throws Exception {
        List<String> command = compose(file);
        command.add("config");
        return new Yaml().load(Docker.check(Docker.with(new ProcessBuilder(command), env), Duration.ofMinutes(1)));
    }

    /** `docker compose` (v2 plugin) when the client has it, else Debian's docker-compose. */
    private static List<String> compose(Path file) throws Exception {
        String docker = Docker.require("docker");
        if (Docker.run(new ProcessBuilder(docker, "compose", "version"), Duration.ofSeconds(30)).exit() == 0) {
            return new ArrayList<>(List.of(docker, "compose", "-f", file.toString()));
        }
        return new ArrayList<>(List.of(Docker.require("docker-compose"), "-f", file.toString()));
    }

    private static Path mountSource(Map<String, Object> service, String target) throws Exception {
        for (Object volume : (List<?>) service.get("volumes")) {
            String source;
            String to;
            if (volume instanceof Map<?, ?> long_) {
                source = String.valueOf(long_.get("source"));
                to = String.valueOf(long_.get("target"));
            } else {
                String[] parts = volume.toString().split(":");
                source = parts[0];
                to = parts[1];
            }
            if (to.equals(target)) {
                return Path.of(source).toRealPath();
            }
        }
        throw new AssertionError("no volume mounted at " + target + " in " + service.get("volumes"));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Map<String, Object> parent, String key) {
        Object value = parent.get(key);
        assertThat(value).as(key).isInstanceOf(Map.class);
        return (Map<String, Object>) value;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> list(Map<String, Object> parent, String key) {
        Object value = parent.get(key);
        assertThat(value).as(key).isInstanceOf(List.class);
        return (List<Map<String, Object>>) value;
    }
}
