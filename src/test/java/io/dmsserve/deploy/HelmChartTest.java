package io.dmsserve.deploy;

import static io.dmsserve.deploy.Chart.FULLNAME;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.openshift.api.model.monitoring.v1.PrometheusRule;
import io.fabric8.openshift.api.model.monitoring.v1.ServiceMonitor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.yaml.snakeyaml.Yaml;

/**
 * helm/dms-serve through Helm itself (helm-java: lint and template in-process, no cluster), the manifests read
 * back as fabric8 model objects: GPU requests, probes, secrets by reference only, the security context, the labels
 * the Service, PDB, ServiceMonitor and InferencePool select on, the monitoring objects equal to observability/,
 * and values the schema must refuse, refused. What a real cluster would add is in docs/deploy.md.
 */
class HelmChartTest {

    private static final Path OBSERVABILITY = Path.of("observability");

    @Test
    void lintPassesStrictly() {
        LintResult result = new Helm(Chart.DIR).lint().strict().call();
        assertThat(result.isFailed()).as(String.join("\n", result.getMessages())).isFalse();
    }

    @Test
    void lintFailsOnValuesTheSchemaRefuses(@TempDir Path copy) throws IOException {
        // The lint above can fail: the same chart with one default the schema refuses.
        Chart.copyTree(Chart.DIR, copy);
        Path values = copy.resolve("values.yaml");
        String text = Files.readString(values);
        String broken = text.replaceFirst("(?m)^  count: 1$", "  count: -1");
        assertThat(broken).isNotEqualTo(text);
        Files.writeString(values, broken);
        LintResult result = new Helm(copy).lint().strict().call();
        assertThat(result.isFailed()).isTrue();
        assertThat(String.join("\n", result.getMessages())).contains("/gpu/count");
    }

    @Test
    void defaultsServeTheEmbeddedModelOnOneGpuWithProbesAndALockedDownPod() {
        Chart.Rendered r = Chart.render(Map.of());
        Deployment deployment = r.one(Deployment.class, FULLNAME);
        assertThat(deployment.getSpec().getReplicas()).isEqualTo(1);
        PodSpec pod = deployment.getSpec().getTemplate().getSpec();
        Container server = server(deployment);
        assertThat(server.getImage()).isEqualTo("dms-serve:gpu");
        assertThat(server.getResources().getLimits()).containsEntry("nvidia.com/gpu", new Quantity("1"));
        assertThat(server.getResources().getRequests()).doesNotContainKey("nvidia.com/gpu");
        assertThat(pod.getTolerations()).anySatisfy(t -> {
            assertThat(t.getKey()).isEqualTo("nvidia.com/gpu");
            assertThat(t.getEffect()).isEqualTo("NoSchedule");
        });
        assertThat(env(server, "DMS_MODEL_PATH")).isEmpty();

        // Probes: liveness while starting, readiness = model loaded and engine alive, on the container's port.
        assertThat(server.getPorts()).singleElement().satisfies(p -> {
            assertThat(p.getName()).isEqualTo("http");
            assertThat(p.getContainerPort()).isEqualTo(8080);
        });
        assertThat(path(server.getStartupProbe())).isEqualTo("/actuator/health/liveness");
        assertThat(path(server.getLivenessProbe())).isEqualTo("/actuator/health/liveness");
        assertThat(path(server.getReadinessProbe())).isEqualTo("/actuator/health/readiness");
        Probe startup = server.getStartupProbe();
        assertThat(startup.getPeriodSeconds() * startup.getFailureThreshold()).as("seconds a model may take to load")
                .isGreaterThanOrEqualTo(600);
        for (Probe probe : List.of(startup, server.getLivenessProbe(), server.getReadinessProbe())) {
            assertThat(probe.getHttpGet().getPort().getStrVal()).isEqualTo("http");
        }

        // The image's user, no privilege, a read-only root with a writable /tmp for the native libraries.
        assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
        assertThat(pod.getSecurityContext().getRunAsUser()).isEqualTo(10001L);
        assertThat(pod.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
        assertThat(server.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
        assertThat(server.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
        assertThat(server.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(server.getVolumeMounts()).anySatisfy(m -> assertThat(m.getMountPath()).isEqualTo("/tmp"));

        // No Secret is ever rendered, and without one the API key variable is absent (NOTES.txt warns).
        assertThat(r.kinds()).doesNotContain("Secret");
        assertThat(server.getEnv()).noneMatch(e -> e.getName().equals("DMS_API_KEYS"));
        assertThat(r.kinds()).doesNotContain("HorizontalPodAutoscaler", "Ingress", "ServiceMonitor",
                "PrometheusRule", "InferencePool");
    }

    @Test
    void theConfigMapCarriesTheInitialSettingsAndAChangeRollsThePods() {
        Chart.Rendered r = Chart.render(Map.of());
        ConfigMap config = r.one(ConfigMap.class, FULLNAME);
        Map<String, Object> yaml = new Yaml().load(config.getData().get("application.yaml"));
        assertThat(at(yaml, "dms", "model", "threshold")).isEqualTo(0);
        assertThat(at(yaml, "dms", "scheduler", "max-running")).isEqualTo(256);
        Container server = server(r.one(Deployment.class, FULLNAME));
        assertThat(env(server, "SPRING_CONFIG_ADDITIONAL_LOCATION")).isEqualTo("/etc/dms-serve/config/");
        assertThat(server.getVolumeMounts()).anySatisfy(m -> {
            assertThat(m.getName()).isEqualTo("config");
            assertThat(m.getMountPath()).isEqualTo("/etc/dms-serve/config");
        });

        Chart.Rendered changed = Chart.render(Map.of("config.dms.model.threshold", "1.5"));
        Map<String, Object> changedYaml = new Yaml().load(
                changed.one(ConfigMap.class, FULLNAME).getData().get("application.yaml"));
        // --set gives a string; Spring binds "1.5" to the threshold's double all the same.
        assertThat(String.valueOf(at(changedYaml, "dms", "model", "threshold"))).isEqualTo("1.5");
        assertThat(checksum(changed)).isNotEqualTo(checksum(r));
    }

    @Test
    void cpuValuesRequestNoGpuAndUseTheCpuImage() {
        Chart.Rendered r = Chart.render(Map.of(), Chart.ciValues("cpu"));
        Deployment deployment = r.one(Deployment.class, FULLNAME);
        Container server = server(deployment);
        assertThat(server.getImage()).isEqualTo("dms-serve:cpu");
        assertThat(server.getResources().getLimits()).doesNotContainKey("nvidia.com/gpu");
        assertThat(server.getResources().getRequests()).doesNotContainKey("nvidia.com/gpu");
        assertThat(deployment.getSpec().getTemplate().getSpec().getTolerations()).isNullOrEmpty();
        assertThat(env(server, "NVIDIA_VISIBLE_DEVICES")).isEqualTo("void");
        // The checkpoint from the node's disk, read-only.
        assertThat(env(server, "DMS_MODEL_PATH")).isEqualTo("/models/Qwen3-0.6B");
        Volume models = volume(deployment, "models");
        assertThat(models.getHostPath().getPath()).isEqualTo("/srv/models");
        assertThat(server.getVolumeMounts()).anySatisfy(m -> {
            assertThat(m.getName()).isEqualTo("models");
            assertThat(m.getReadOnly()).isTrue();
        });
    }

    @Test
    void gpuValuesTakeTheModelFromAPvcAndTheKeysAndAdminsFromSecretsByReference() {
        Chart.Rendered r = Chart.render(Map.of("gpu.count", 2), Chart.ciValues("gpu"));
        Deployment deployment = r.one(Deployment.class, FULLNAME);
        Container server = server(deployment);
        assertThat(server.getResources().getLimits()).containsEntry("nvidia.com/gpu", new Quantity("2"))
                .containsEntry("memory", new Quantity("64Gi"));
        assertThat(env(server, "DMS_MODEL_PATH")).isEqualTo("/models/Qwen3-8B-DMS-8x");
        Volume models = volume(deployment, "models");
        assertThat(models.getPersistentVolumeClaim().getClaimName()).isEqualTo("models");
        assertThat(models.getPersistentVolumeClaim().getReadOnly()).isTrue();

        EnvVar keys = server.getEnv().stream().filter(e -> e.getName().equals("DMS_API_KEYS")).findFirst()
                .orElseThrow();
        assertThat(keys.getValue()).isNull();
        assertThat(keys.getValueFrom().getSecretKeyRef().getName()).isEqualTo("dms-serve-api-keys");
        assertThat(keys.getValueFrom().getSecretKeyRef().getKey()).isEqualTo("api-keys");
        assertThat(r.all(Secret.class)).isEmpty();
        // Admin users: the Secret mounted as a Spring config tree, never copied into the ConfigMap.
        assertThat(volume(deployment, "admin-users").getSecret().getSecretName()).isEqualTo("dms-serve-admin-users");
        assertThat(env(server, "SPRING_CONFIG_IMPORT")).isEqualTo("optional:configtree:/etc/dms-serve/admin-users/");
        assertThat(r.one(ConfigMap.class, FULLNAME).getData().get("application.yaml")).contains("100GB")
                .doesNotContain("dms-serve-api-keys");
    }

    @Test
    void anInitContainerFillsTheModelVolume() {
        Chart.Rendered r = Chart.render(Map.of(), Chart.ciValues("hpa"));
        Deployment deployment = r.one(Deployment.class, FULLNAME);
        PodSpec pod = deployment.getSpec().getTemplate().getSpec();
        assertThat(pod.getInitContainers()).singleElement().satisfies(init -> {
            assertThat(init.getImage()).isEqualTo("registry.example.com/models/qwen3-8b-dms-8x:1");
            assertThat(env(init, "DMS_MODEL_PATH")).isEqualTo("/models/Qwen3-8B-DMS-8x");
            assertThat(init.getVolumeMounts()).anySatisfy(m -> {
                assertThat(m.getName()).isEqualTo("models");
                assertThat(m.getReadOnly()).isNotEqualTo(Boolean.TRUE);
            });
        });
        assertThat(volume(deployment, "models").getEmptyDir().getSizeLimit()).isEqualTo(new Quantity("40Gi"));
    }

    @Test
    void theHpaScalesTheDeploymentOnQueueLengthPerPod() {
        Chart.Rendered r = Chart.render(Map.of(), Chart.ciValues("hpa"));
        Deployment deployment = r.one(Deployment.class, FULLNAME);
        // The HPA owns the replica count: a rendered one would fight it on every upgrade.
        assertThat(deployment.getSpec().getReplicas()).isNull();
        HorizontalPodAutoscaler hpa = r.one(HorizontalPodAutoscaler.class, FULLNAME);
        assertThat(hpa.getSpec().getScaleTargetRef().getKind()).isEqualTo("Deployment");
        assertThat(hpa.getSpec().getScaleTargetRef().getName()).isEqualTo(deployment.getMetadata().getName());
        assertThat(hpa.getSpec().getMinReplicas()).isEqualTo(2);
        assertThat(hpa.getSpec().getMaxReplicas()).isEqualTo(8);
        assertThat(hpa.getSpec().getMetrics()).singleElement().satisfies(m -> {
            assertThat(m.getType()).isEqualTo("Pods");
            assertThat(m.getPods().getMetric().getName()).isEqualTo("dms_requests_waiting");
            assertThat(m.getPods().getTarget().getType()).isEqualTo("AverageValue");
            assertThat(m.getPods().getTarget().getAverageValue()).isEqualTo(new Quantity("8"));
        });
    }

    @Test
    void theIngressRoutesToTheServicePortByName() {
        Chart.Rendered r = Chart.render(Map.of(), Chart.ciValues("ingress"));
        Ingress ingress = r.one(Ingress.class, FULLNAME);
        Service service = r.one(Service.class, FULLNAME);
        assertThat(ingress.getSpec().getIngressClassName()).isEqualTo("nginx");
        assertThat(ingress.getSpec().getTls()).singleElement()
                .satisfies(t -> assertThat(t.getSecretName()).isEqualTo("llm-example-com-tls"));
        var backend = ingress.getSpec().getRules().get(0).getHttp().getPaths().get(0).getBackend().getService();
        assertThat(backend.getName()).isEqualTo(service.getMetadata().getName());
        assertThat(service.getSpec().getPorts()).extracting(ServicePort::getName).contains(backend.getPort().getName());
    }

    @Test
    void serviceServiceMonitorAndPdbSelectTheServerPods() {
        Chart.Rendered r = Chart.render(Map.of(), Chart.ciValues("gpu"));
        Map<String, String> podLabels = r.one(Deployment.class, FULLNAME).getSpec().getTemplate().getMetadata()
                .getLabels();
        Service service = r.one(Service.class, FULLNAME);
        assertThat(podLabels).containsAllEntriesOf(service.getSpec().getSelector());
        assertThat(service.getSpec().getPorts()).singleElement().satisfies(p -> {
            assertThat(p.getName()).isEqualTo("http");
            assertThat(p.getTargetPort().getStrVal()).isEqualTo("http");
        });
        assertThat(podLabels).containsAllEntriesOf(
                r.one(PodDisruptionBudget.class, FULLNAME).getSpec().getSelector().getMatchLabels());

        ServiceMonitor monitor = r.one(ServiceMonitor.class, FULLNAME);
        assertThat(monitor.getMetadata().getLabels()).containsEntry("release", "kube-prometheus-stack");
        assertThat(service.getMetadata().getLabels()).containsAllEntriesOf(monitor.getSpec().getSelector()
                .getMatchLabels());
        assertThat(monitor.getSpec().getNamespaceSelector().getMatchNames()).containsExactly(Chart.NAMESPACE);
        assertThat(monitor.getSpec().getEndpoints()).singleElement().satisfies(e -> {
            assertThat(e.getPort()).isEqualTo("http");
            assertThat(e.getPath()).isEqualTo("/actuator/prometheus");
        });
        // The alert rules select job="dms-serve": the job label comes from the Service label jobLabel names.
        assertThat(service.getMetadata().getLabels()).containsEntry(monitor.getSpec().getJobLabel(), "dms-serve");
        assertThat(Files.exists(OBSERVABILITY.resolve("prometheus/alerts.yml"))).isTrue();
    }

    @Test
    void thePrometheusRuleIsTheRepositorysAlertRules() throws IOException {
        Chart.Rendered r = Chart.render(Map.of(), Chart.ciValues("gpu"));
        PrometheusRule rule = r.one(PrometheusRule.class, FULLNAME);
        Map<String, Object> repo = new Yaml().load(Files.readString(OBSERVABILITY.resolve("prometheus/alerts.yml")));
        // The typed object serialised back: every group, alert, expression, duration and annotation survives.
        Map<String, Object> rendered = new Yaml().load(new io.fabric8.kubernetes.client.utils.KubernetesSerialization()
                .asYaml(rule.getSpec()));
        assertThat(rendered.get("groups")).isEqualTo(repo.get("groups"));
        assertThat(rule.getSpec().getGroups().get(0).getRules()).hasSize(6);
        assertThat(rule.getSpec().getGroups().get(0).getRules().get(0).getAnnotations().get("summary"))
                .contains("{{ $labels.model }}");
    }

    @Test
    void theChartsCopiesOfTheObservabilityFilesEqualTheRepositorys() throws IOException {
        assertThat(Files.readString(Chart.DIR.resolve("files/alerts.yml")))
                .as("helm/dms-serve/files/alerts.yml: cp observability/prometheus/alerts.yml helm/dms-serve/files/")
                .isEqualTo(Files.readString(OBSERVABILITY.resolve("prometheus/alerts.yml")));
        Path repoDashboards = OBSERVABILITY.resolve("grafana/dashboards");
        Path chartDashboards = Chart.DIR.resolve("files/dashboards");
        List<String> names = list(repoDashboards);
        assertThat(names).isNotEmpty();
        assertThat(list(chartDashboards)).isEqualTo(names);
        for (String name : names) {
            assertThat(Files.readString(chartDashboards.resolve(name)))
                    .as("helm/dms-serve/files/dashboards/%s: copy it from observability/grafana/dashboards", name)
                    .isEqualTo(Files.readString(repoDashboards.resolve(name)));
        }
    }

    @Test
    void theDashboardsConfigMapCarriesTheSidecarLabelAndTheDashboards() throws IOException {
        Chart.Rendered r = Chart.render(Map.of(), Chart.ciValues("gpu"));
        ConfigMap dashboards = r.one(ConfigMap.class, FULLNAME + "-dashboards");
        assertThat(dashboards.getMetadata().getLabels()).containsEntry("grafana_dashboard", "1");
        assertThat(dashboards.getData()).containsOnlyKeys(list(OBSERVABILITY.resolve("grafana/dashboards")));
        assertThat(dashboards.getData().get("dms-serve.json")).isEqualTo(
                Files.readString(OBSERVABILITY.resolve("grafana/dashboards/dms-serve.json")).stripTrailing());
    }

    @Test
    void theInferencePoolSelectsTheServerPodsAndItsPickerReadsOurMetricNames() throws IOException {
        Chart.Rendered r = Chart.render(Map.of(), Chart.ciValues("inference-pool"));
        assertThat(r.all(Service.class)).noneMatch(s -> s.getMetadata().getName().equals(FULLNAME));
        Deployment server = r.one(Deployment.class, FULLNAME);
        assertThat(server.getSpec().getReplicas()).isEqualTo(3);
        GenericKubernetesResource pool = r.one(GenericKubernetesResource.class, FULLNAME);
        assertThat(pool.getApiVersion()).isEqualTo("inference.networking.k8s.io/v1");
        assertThat(pool.getKind()).isEqualTo("InferencePool");
        Map<String, String> selector = pool.get("spec", "selector", "matchLabels");
        assertThat(server.getSpec().getTemplate().getMetadata().getLabels()).containsAllEntriesOf(selector);
        List<Map<String, Object>> ports = pool.get("spec", "targetPorts");
        assertThat(ports).singleElement().satisfies(p -> assertThat(p).containsEntry("number", 8080));
        String picker = pool.get("spec", "endpointPickerRef", "name");
        Service pickerService = r.one(Service.class, picker);
        Deployment pickerDeployment = r.one(Deployment.class, picker);
        assertThat(pickerDeployment.getSpec().getTemplate().getMetadata().getLabels())
                .containsAllEntriesOf(pickerService.getSpec().getSelector());
        // The picker must not be one of the server's pods (the pool's selector would route to it otherwise).
        assertThat(pickerDeployment.getSpec().getTemplate().getMetadata().getLabels().entrySet()
                .containsAll(selector.entrySet())).as("the pool's selector matches the picker's pods").isFalse();
        // Every EPP flag docs/metrics.md gives is on the picker's command line.
        List<String> args = pickerDeployment.getSpec().getTemplate().getSpec().getContainers().get(0).getArgs();
        List<String> documented = documentedEppFlags();
        assertThat(documented).hasSizeGreaterThanOrEqualTo(6);
        assertThat(args).containsAll(documented).contains("--pool-name=" + FULLNAME);
    }

    @Test
    void theHelmTestPodChecksReadinessAndOneCompletionThroughTheService() throws IOException {
        Pod test = Chart.testPod(Map.of(), Chart.ciValues("ingress"));
        Chart.Rendered r = Chart.render(Map.of(), Chart.ciValues("ingress"));
        Container c = test.getSpec().getContainers().get(0);
        assertThat(c.getImage()).isEqualTo(server(r.one(Deployment.class, FULLNAME)).getImage());
        assertThat(env(c, "BASE")).isEqualTo("http://" + FULLNAME + ":8080");
        assertThat(c.getEnv()).anySatisfy(e -> {
            assertThat(e.getName()).isEqualTo("DMS_API_KEYS");
            assertThat(e.getValueFrom().getSecretKeyRef().getName()).isEqualTo("dms-serve-api-keys");
        });
        assertThat(String.join("\n", c.getArgs())).contains("/actuator/health/readiness")
                .contains("/v1/chat/completions").contains("data: \\[DONE\\]");
        // DockerImageIT runs this script against the real image.
    }

    @Test
    void theNotesWarnWhenTheApiIsOpenAndNameWhatScalingNeeds() {
        String open = notes(Map.of());
        assertThat(open).contains("WARNING: no apiKeys.existingSecret: the API is OPEN")
                .contains("helm test " + Chart.RELEASE).contains("GPUs: 1 x nvidia.com/gpu");
        String hpa = notes(Map.of(), Chart.ciValues("hpa"));
        assertThat(hpa).doesNotContain("WARNING").contains("Autoscaling on dms_requests_waiting")
                .contains("Model: /models/Qwen3-8B-DMS-8x from initContainer").contains("900 s");
        assertThat(notes(Map.of(), Chart.ciValues("cpu"))).contains("GPUs: none");
    }

    /** NOTES.txt as `helm install --dry-run` prints it (client only: no cluster). */
    private static String notes(Map<String, ?> set, Path... valuesFiles) {
        var install = new Helm(Chart.DIR).install().withName(Chart.RELEASE).withNamespace(Chart.NAMESPACE).dryRun()
                .clientOnly().withKubeVersion("1.31.0");
        for (Path file : valuesFiles) {
            install = install.withValuesFile(file);
        }
        for (Map.Entry<String, ?> e : set.entrySet()) {
            install = install.set(e.getKey(), e.getValue());
        }
        String output = install.call().getOutput();
        assertThat(output).contains("NOTES:");
        return output.substring(output.indexOf("NOTES:"));
    }

    @Test
    void templateFailsWhenAModelSourceLacksItsVolume() {
        assertThatThrownBy(() -> Chart.template(Map.of("model.source", "pvc", "model.path", "m")))
                .hasMessageContaining("model.pvc.claimName is required");
        assertThatThrownBy(() -> Chart.template(Map.of("ingress.enabled", true, "service.enabled", false,
                "tests.enabled", false)))
                .hasMessageContaining("ingress.enabled needs service.enabled");
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "gpu.count=-1", "gpu.count=two", "model.source=s3", "apiKey=sk-typo", "apiKeys.keys=sk-inline",
            "replicaCount=-2", "serviceMonitor.interval=15", "model.source=pvc", "service.port=70000",
            "probes.startup.failureThreshold=0", "inferencePool.failureMode=Sometimes", "image.repository="})
    void theSchemaRefuses(String assignment) {
        String key = assignment.substring(0, assignment.indexOf('='));
        String value = assignment.substring(assignment.indexOf('=') + 1);
        Map<String, Object> set = new java.util.LinkedHashMap<>();
        set.put(key, value);
        if (key.equals("model.source")) {
            set.put("model.pvc.claimName", "models");
        }
        assertThatThrownBy(() -> Chart.template(set)).as(assignment)
                .hasMessageContaining("values don't meet the specifications of the schema");
    }

    @Test
    void theSchemaAcceptsEveryCiValuesFile() throws IOException {
        // The other side of the refusals: the examples shipped with the chart pass the same schema.
        List<String> files = list(Chart.CI_VALUES);
        assertThat(files).hasSizeGreaterThanOrEqualTo(5);
        for (String file : files) {
            assertThat(Chart.render(Map.of(), Chart.CI_VALUES.resolve(file)).objects()).as(file)
                    .extracting(HasMetadata::getKind).contains("Deployment", "ConfigMap");
        }
    }

    private static List<String> documentedEppFlags() throws IOException {
        String doc = Files.readString(Path.of("docs/metrics.md"));
        Matcher m = Pattern.compile("(?m)^(--[a-z-]+-(?:metric|path|scheme))=(\\S+)").matcher(doc);
        List<String> flags = new ArrayList<>();
        while (m.find()) {
            String value = m.group(2).equals("\"\"") ? "" : m.group(2);
            flags.add(m.group(1) + "=" + value);
        }
        return flags;
    }

    private static Container server(Deployment deployment) {
        return deployment.getSpec().getTemplate().getSpec().getContainers().stream()
                .filter(c -> c.getName().equals("dms-serve")).findFirst().orElseThrow();
    }

    private static String env(Container container, String name) {
        return container.getEnv().stream().filter(e -> e.getName().equals(name)).findFirst()
                .map(EnvVar::getValue).orElseThrow(() -> new AssertionError("no env " + name));
    }

    private static Volume volume(Deployment deployment, String name) {
        return deployment.getSpec().getTemplate().getSpec().getVolumes().stream()
                .filter(v -> v.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no volume " + name));
    }

    private static String path(Probe probe) {
        return probe.getHttpGet().getPath();
    }

    private static String checksum(Chart.Rendered r) {
        return r.one(Deployment.class, FULLNAME).getSpec().getTemplate().getMetadata().getAnnotations()
                .get("checksum/config");
    }

    @SuppressWarnings("unchecked")
    private static Object at(Map<String, Object> map, String... keys) {
        Object node = map;
        for (String key : keys) {
            node = ((Map<String, Object>) node).get(key);
        }
        return node;
    }

    private static List<String> list(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
