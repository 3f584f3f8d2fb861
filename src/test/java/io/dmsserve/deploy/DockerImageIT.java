package io.dmsserve.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.dockerjava.api.command.InspectImageResponse;
import com.github.dockerjava.api.model.AccessMode;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.Volume;
import io.dmsserve.tools.HostTools;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.Pod;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.DockerImageName;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The image of docker/Dockerfile, built and started for real: target {@code prebuilt} over the base image
 * docker/ci/base-images.sh makes (no registry is reachable in CI), with the jar this build packaged and a JRE made
 * by docker/jlink.sh, the script the Dockerfile's build stage runs. Testcontainers starts it on the host's
 * network (the CI engine has no bridge) with the embedded model, configured as the chart's pod (its environment,
 * its ConfigMap, its user, a read-only root filesystem); the test waits for Docker's own HEALTHCHECK to say healthy,
 * then checks readiness, one streamed chat completion with the key, /actuator/prometheus (the ConfigMap's threshold
 * in force), and runs the chart's {@code helm test} script inside the container against it.
 */
@Tag("docker")
class DockerImageIT {

    static final String IMAGE = "dms-serve:it";
    private static final String KEY = "sk-docker-image-it";
    /** The chart's config.dms.model.threshold for this container: not the default 0, so that it shows. */
    private static final String THRESHOLD = "1.5";
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private static GenericContainer<?> container;
    private static String base;
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void buildAndStart() throws Exception {
        Docker.requireEngineAndBaseImage();
        buildImage();
        int port = HostTools.freePort();
        base = "http://127.0.0.1:" + port;
        container = new GenericContainer<>(DockerImageName.parse(IMAGE))
                .withNetworkMode("host")
                // Docker's health status, from the image's HEALTHCHECK (curl on readiness every 15 s).
                .waitingFor(Wait.forHealthcheck().withStartupTimeout(Duration.ofMinutes(3)));
        configureLikeTheChartsPod(container);
        // The host's network: the port the pod's 8080 would be, free here.
        container.withEnv("SERVER_PORT", Integer.toString(port));
        container.start();
    }

    /**
     * The container as the chart's Deployment runs it (rendered with an API key Secret and a non-default
     * threshold): its literal environment, the key where the Secret would be, the ConfigMap's application.yaml at
     * the Deployment's mount path, the pod's user, a read-only root filesystem with /tmp as the only writable place.
     */
    private static void configureLikeTheChartsPod(GenericContainer<?> c) throws IOException {
        Chart.Rendered chart = Chart.render(Map.of("apiKeys.existingSecret", "keys",
                "config.dms.model.threshold", THRESHOLD));
        Deployment deployment = chart.one(Deployment.class, Chart.FULLNAME);
        Container server = deployment.getSpec().getTemplate().getSpec().getContainers().get(0);
        for (EnvVar env : server.getEnv()) {
            if (env.getValueFrom() == null) {
                c.withEnv(env.getName(), env.getValue());
            } else {
                assertThat(env.getName()).isEqualTo("DMS_API_KEYS");
                c.withEnv(env.getName(), KEY);
            }
        }
        Path config = Path.of("target/docker/config").toAbsolutePath();
        Files.createDirectories(config);
        Files.writeString(config.resolve("application.yaml"),
                chart.one(ConfigMap.class, Chart.FULLNAME).getData().get("application.yaml"));
        // Readable by the pod's user (uid 10001), as a ConfigMap volume is.
        Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(config.resolve("application.yaml"), PosixFilePermissions.fromString("rw-r--r--"));
        String mountPath = server.getVolumeMounts().stream().filter(m -> m.getName().equals("config")).findFirst()
                .orElseThrow().getMountPath();
        var security = deployment.getSpec().getTemplate().getSpec().getSecurityContext();
        assertThat(server.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
        // The bind is made on the create command itself: Testcontainers' own file binding starts a helper image
        // (alpine) when it finds itself inside a container, and no registry is reachable.
        c.withCreateContainerCmdModifier(cmd -> cmd.withUser(security.getRunAsUser() + ":" + security.getRunAsGroup())
                .getHostConfig().withReadonlyRootfs(true)
                .withBinds(new Bind(config.toString(), new Volume(mountPath), AccessMode.ro))
                // exec: an emptyDir (the chart's /tmp) allows it, and the tokenizer's and JCuda's native libraries
                // are mapped from there; Docker's tmpfs default, noexec, fails the start ("failed to map segment").
                .withTmpFs(Map.of("/tmp", "rw,exec,size=1g")));
    }

    @AfterAll
    static void stop() {
        if (container != null) {
            container.stop();
        }
        // Each build leaves a new image; the next one is rebuilt from the cached base layers in seconds.
        DockerClientFactory.instance().client().removeImageCmd(IMAGE).withForce(true).exec();
    }

    /** The jar of this build and a JRE from docker/jlink.sh into target/docker/, then docker build. */
    static void buildImage() throws Exception {
        Path jar = Path.of("target/dms-serve.jar");
        assertThat(jar).as("the packaged jar (failsafe runs after package)").exists();
        Path context = Path.of("target/docker");
        Files.createDirectories(context);
        Files.copy(jar, context.resolve("dms-serve.jar"), StandardCopyOption.REPLACE_EXISTING);
        Docker.check(new ProcessBuilder("bash", "docker/jlink.sh", "target/docker/jre"), Duration.ofMinutes(3));
        long start = System.nanoTime();
        // The classic builder: the CI engine's BuildKit would want a registry for nothing, and the classic one is
        // what both Debian's client and a newer client without buildx run. The Dockerfile keeps `prebuilt` ahead
        // of the build stages so that the classic builder, which builds every stage up to the target, needs neither
        // of their base images.
        Docker.check(Docker.with(new ProcessBuilder(Docker.require("docker"), "build", "-f", "docker/Dockerfile",
                "--target", "prebuilt", "--build-arg", "RUNTIME_BASE=" + Docker.RUNTIME_BASE, "-t", IMAGE, "."),
                Map.of("DOCKER_BUILDKIT", "0")), Duration.ofMinutes(5));
        long size = DockerClientFactory.instance().client().inspectImageCmd(IMAGE).exec().getSize();
        String line = String.format("image %s: %d bytes (%.0f MB), built in %.1f s%n", IMAGE, size, size / 1e6,
                (System.nanoTime() - start) / 1e9);
        Files.writeString(context.resolve("image-size.txt"), line);
        System.out.print(line);
    }

    @Test
    void theImageRunsAsItsUserWithTheModelVolumeHealthcheckAndVectorApi() {
        InspectImageResponse image = DockerClientFactory.instance().client().inspectImageCmd(IMAGE).exec();
        assertThat(image.getConfig().getUser()).isEqualTo("10001:10001");
        assertThat(image.getConfig().getVolumes()).containsKey("/models");
        assertThat(image.getConfig().getEntrypoint()).contains("--add-modules=jdk.incubator.vector",
                "--add-modules=jdk.incubator.foreign", "--enable-native-access=ALL-UNNAMED");
        assertThat(image.getConfig().getHealthcheck().getTest()).anyMatch(s -> s.contains("/actuator/health/readiness"));
        assertThat(container.getCurrentContainerInfo().getState().getHealth().getStatus()).isEqualTo("healthy");
        // The jlinked JRE has the Vector API and the flag reaches it: the engine says which kernels it chose.
        assertThat(container.getLogs()).contains("Serving model 'tiny-qwen3-dms' from the embedded checkpoint")
                .containsPattern("backend cpu \\(vector-\\d+ kernels\\)");
    }

    @Test
    void readinessIsUp() throws Exception {
        HttpResponse<String> response = get("/actuator/health/readiness");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(response.body()).path("status").asString()).isEqualTo("UP");
    }

    @Test
    void oneChatCompletionStreamsWithTheKeyAndIsRefusedWithout() throws Exception {
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"stream\":true,\"max_tokens\":12,"
                + "\"stream_options\":{\"include_usage\":true}}";
        HttpResponse<String> refused = post("/v1/chat/completions", body, null);
        assertThat(refused.statusCode()).isEqualTo(401);

        HttpResponse<String> response = post("/v1/chat/completions", body, KEY);
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-type")).hasValueSatisfying(
                v -> assertThat(v).startsWith("text/event-stream"));
        List<String> events = response.body().lines().filter(l -> l.startsWith("data: "))
                .map(l -> l.substring(6)).toList();
        assertThat(events).last().isEqualTo("[DONE]");
        List<JsonNode> chunks = new ArrayList<>();
        for (String event : events.subList(0, events.size() - 1)) {
            chunks.add(JSON.readTree(event));
        }
        assertThat(chunks).allSatisfy(c -> assertThat(c.path("object").asString()).isEqualTo("chat.completion.chunk"));
        StringBuilder text = new StringBuilder();
        String finish = null;
        for (JsonNode c : chunks) {
            for (JsonNode choice : c.path("choices")) {
                text.append(choice.path("delta").path("content").asString(""));
                if (!choice.path("finish_reason").isNull() && !choice.path("finish_reason").isMissingNode()) {
                    finish = choice.path("finish_reason").asString();
                }
            }
        }
        JsonNode usage = chunks.get(chunks.size() - 1).path("usage");
        assertThat(usage.path("completion_tokens").asInt()).isBetween(1, 12);
        assertThat(finish).isIn("stop", "length");
        assertThat(text).isNotEmpty();
    }

    @Test
    void prometheusServesTheEngineMeters() throws Exception {
        // A request first, so that the counters have moved (the test order is not fixed).
        post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":4}", KEY);
        HttpResponse<String> response = get("/actuator/prometheus");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body())
                .containsPattern("(?m)^dms_model_state\\{[^}]*state=\"ready\"[^}]*} 1\\.0$")
                .containsPattern("(?m)^dms_request_generated_tokens_total\\{[^}]*} [1-9]")
                .contains("dms_kv_cache_usage_ratio{", "dms_requests_waiting{", "jvm_memory_used_bytes{")
                // The chart's ConfigMap reached the server: the threshold in force is the one rendered into it.
                .containsPattern("(?m)^dms_eviction_threshold\\{[^}]*} 1\\.5$");
    }

    @Test
    void theChartsHelmTestScriptPassesAgainstTheContainer() throws Exception {
        // The script the chart's `helm test` pod runs, as rendered, in this container (the pod uses this image):
        // BASE is what the Service's address would be, the key what the Secret would hold.
        Pod pod = Chart.testPod(Map.of("apiKeys.existingSecret", "keys"));
        Container test = pod.getSpec().getContainers().get(0);
        var result = helmTest(test, KEY + ",sk-other");
        assertThat(result.getExitCode()).as(result.getStdout() + result.getStderr()).isZero();
        assertThat(result.getStdout()).contains("health and one streamed completion: OK");

        // And it can fail: a wrong key is refused, so the script exits non-zero.
        assertThat(helmTest(test, "sk-wrong").getExitCode()).isNotZero();
    }

    /** The test pod's command and arguments run in the container, with the Service's address and these keys. */
    private static org.testcontainers.containers.Container.ExecResult helmTest(Container test, String keys)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("env", "BASE=" + base, "DMS_API_KEYS=" + keys));
        command.addAll(test.getCommand());
        command.addAll(test.getArgs());
        return container.execInContainer(command.toArray(String[]::new));
    }

    private static HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> post(String path, String body, String key)
            throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            request.header("Authorization", "Bearer " + key);
        }
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

}
