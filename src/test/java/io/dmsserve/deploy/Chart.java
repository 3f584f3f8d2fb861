package io.dmsserve.deploy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.kubernetes.api.model.Pod;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * helm/dms-serve rendered by Helm's own template engine (helm-java runs Helm's Go library in-process), parsed into
 * fabric8's Kubernetes model classes: a kind the model knows (Deployment, ServiceMonitor, ...) comes back typed,
 * anything else (InferencePool) as a GenericKubernetesResource.
 */
final class Chart {

    static final Path DIR = Path.of("helm/dms-serve");
    static final Path CI_VALUES = DIR.resolve("ci");
    static final String RELEASE = "llm";
    static final String NAMESPACE = "serving";
    /** The fullname of release "llm": release name + chart name. */
    static final String FULLNAME = "llm-dms-serve";

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
    private static final Pattern DOCUMENT_SEPARATOR = Pattern.compile("(?m)^---\\s*$");

    private Chart() {
    }

    /** The manifests' text for the default values plus the given values files and --set pairs. */
    static String template(Map<String, ?> set, Path... valuesFiles) {
        return template(DIR, set, valuesFiles);
    }

    /** The same for the chart in {@code chartDir}. */
    private static String template(Path chartDir, Map<String, ?> set, Path... valuesFiles) {
        TemplateCommand command = new Helm(chartDir).template().withName(RELEASE).withNamespace(NAMESPACE)
                .withKubeVersion("1.31.0");
        for (Path file : valuesFiles) {
            command = command.withValuesFile(file.toAbsolutePath());
        }
        for (Map.Entry<String, ?> e : set.entrySet()) {
            command = command.set(e.getKey(), e.getValue());
        }
        return command.call();
    }

    /** The manifests as model objects. */
    static Rendered render(Map<String, ?> set, Path... valuesFiles) {
        return Rendered.of(template(set, valuesFiles));
    }

    /**
     * The {@code helm test} pod as rendered. Helm's library leaves hooks out of the release manifest (the CLI's
     * {@code helm template} prints them itself), and helm-java returns that manifest; so a copy of the chart whose
     * test template carries the hook annotation under another name is rendered instead. The annotation itself is
     * checked on the template's text.
     */
    static Pod testPod(Map<String, ?> set, Path... valuesFiles) throws IOException {
        Path template = DIR.resolve("templates/tests/test-completion.yaml");
        String text = Files.readString(template);
        if (!text.contains("helm.sh/hook: test")) {
            throw new AssertionError(template + " is no helm test hook (no helm.sh/hook: test annotation)");
        }
        Path copy = Files.createTempDirectory("dms-chart");
        try {
            copyTree(DIR, copy);
            Files.writeString(copy.resolve("templates/tests/test-completion.yaml"),
                    text.replace("helm.sh/hook: test", "dms-serve.test/hook: test")
                            .replace("helm.sh/hook-delete-policy", "dms-serve.test/hook-delete-policy"));
            return Rendered.of(template(copy, set, valuesFiles)).one(Pod.class, FULLNAME + "-test");
        } finally {
            try (Stream<Path> files = Files.walk(copy)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path source : files.sorted().toList()) {
                Path dest = to.resolve(from.relativize(source).toString());
                if (Files.isDirectory(source)) {
                    Files.createDirectories(dest);
                } else {
                    Files.copy(source, dest);
                }
            }
        }
    }

    static Path ciValues(String name) {
        return CI_VALUES.resolve(name + "-values.yaml");
    }

    record Rendered(String text, List<HasMetadata> objects) {

        static Rendered of(String text) {
            List<HasMetadata> objects = new ArrayList<>();
            for (String document : DOCUMENT_SEPARATOR.split(text)) {
                // A document of comments only (a template that rendered nothing) is no object.
                boolean empty = document.lines().map(String::strip)
                        .allMatch(line -> line.isEmpty() || line.startsWith("#"));
                if (!empty) {
                    objects.add(SERIALIZATION.unmarshal(document, HasMetadata.class));
                }
            }
            return new Rendered(text, objects);
        }

        <T extends HasMetadata> List<T> all(Class<T> type) {
            return objects.stream().filter(type::isInstance).map(type::cast).toList();
        }

        <T extends HasMetadata> Optional<T> find(Class<T> type, String name) {
            return all(type).stream().filter(o -> o.getMetadata().getName().equals(name)).findFirst();
        }

        /** The one object of a type with that name; fails naming what was rendered otherwise. */
        <T extends HasMetadata> T one(Class<T> type, String name) {
            return find(type, name).orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " " + name
                    + " among " + objects.stream().map(o -> o.getKind() + "/" + o.getMetadata().getName()).toList()));
        }

        List<String> kinds() {
            return objects.stream().map(HasMetadata::getKind).toList();
        }
    }
}
