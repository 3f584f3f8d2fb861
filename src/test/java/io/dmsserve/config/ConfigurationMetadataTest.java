package io.dmsserve.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.lang.reflect.Parameter;
import java.lang.reflect.RecordComponent;
import java.net.URL;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.config.BeanDefinition;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.context.annotation.ClassPathScanningCandidateComponentProvider;
import org.springframework.core.type.filter.AnnotationTypeFilter;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The IDE metadata the configuration processor writes (META-INF/spring-configuration-metadata.json) documents
 * every {@code dms.*} property: the expected names are derived from the records themselves (prefix plus each
 * component in kebab case), each needs a description, and a component with a {@code @DefaultValue} needs that
 * default in the metadata.
 */
class ConfigurationMetadataTest {

    /** Every @ConfigurationProperties class of the application, found by scanning, not listed by hand. */
    private static List<Class<?>> propertiesClasses() throws ClassNotFoundException {
        ClassPathScanningCandidateComponentProvider scanner = new ClassPathScanningCandidateComponentProvider(false);
        scanner.addIncludeFilter(new AnnotationTypeFilter(ConfigurationProperties.class));
        List<Class<?>> classes = new ArrayList<>();
        for (BeanDefinition candidate : scanner.findCandidateComponents("io.dmsserve")) {
            Class<?> type = Class.forName(candidate.getBeanClassName());
            if (!type.getProtectionDomain().getCodeSource().getLocation().getPath().contains("test-classes")) {
                classes.add(type);
            }
        }
        return classes;
    }

    /** Property name to its default as declared ({@code null}: none declared, or an empty default). */
    private static Map<String, String> declared() throws ReflectiveOperationException {
        Map<String, String> properties = new TreeMap<>();
        for (Class<?> type : propertiesClasses()) {
            assertThat(type.isRecord()).as("%s is an immutable record", type).isTrue();
            String prefix = type.getAnnotation(ConfigurationProperties.class).value();
            RecordComponent[] components = type.getRecordComponents();
            Class<?>[] types = java.util.Arrays.stream(components).map(RecordComponent::getType).toArray(Class<?>[]::new);
            // @DefaultValue targets parameters: on a record it lands on the canonical constructor's.
            Parameter[] parameters = type.getDeclaredConstructor(types).getParameters();
            for (int i = 0; i < components.length; i++) {
                RecordComponent component = components[i];
                DefaultValue defaultValue = parameters[i].getAnnotation(DefaultValue.class);
                String declaredDefault = defaultValue == null || defaultValue.value().length == 0 ? null
                        : String.join(",", defaultValue.value());
                properties.put(prefix + "." + kebab(component.getName()), declaredDefault);
            }
        }
        return properties;
    }

    private static String kebab(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(java.util.Locale.ROOT);
    }

    /** Our metadata file (the dependencies' jars have their own). */
    private static JsonNode metadata() throws Exception {
        JsonNode ours = null;
        for (URL url : Collections.list(ConfigurationMetadataTest.class.getClassLoader()
                .getResources("META-INF/spring-configuration-metadata.json"))) {
            try (InputStream in = url.openStream()) {
                JsonNode node = JsonMapper.builder().build().readTree(in);
                for (JsonNode group : node.path("groups")) {
                    if (group.path("sourceType").asString().startsWith("io.dmsserve.")) {
                        assertThat(ours).as("one metadata file of ours, found again at %s", url).isNull();
                        ours = node;
                        break;
                    }
                }
            }
        }
        assertThat(ours).as("META-INF/spring-configuration-metadata.json of this project (the configuration"
                + " processor did not run?)").isNotNull();
        return ours;
    }

    @Test
    void theScanFindsTheEightRecords() throws Exception {
        assertThat(propertiesClasses()).containsExactlyInAnyOrder(ApiProperties.class, ModelProperties.class,
                CpuProperties.class, BackendProperties.class, KvCacheProperties.class, SchedulerProperties.class,
                MetricsProperties.class, AdminProperties.class);
    }

    @Test
    void everyDmsPropertyIsDocumentedWithItsDefault() throws Exception {
        Map<String, String> declared = declared();
        Map<String, JsonNode> documented = new TreeMap<>();
        for (JsonNode property : metadata().path("properties")) {
            if (property.path("name").asString().startsWith("dms.")) {
                documented.put(property.path("name").asString(), property);
            }
        }
        assertThat(documented.keySet()).as("documented dms.* properties").isEqualTo(declared.keySet());
        assertThat(declared).hasSize(29); // 22 on main (metrics: 2, api: 2) + dms.admin: 5 + dms.scheduler.overlap
        // + dms.kv-cache.repack
        for (Map.Entry<String, String> entry : declared.entrySet()) {
            JsonNode property = documented.get(entry.getKey());
            assertThat(property.path("description").asString()).as("description of %s", entry.getKey())
                    .isNotBlank().doesNotStartWith(entry.getKey())
                    .as("IDEs show javadoc tags literally: %s", entry.getKey()).doesNotContain("{@");
            assertThat(property.path("type").asString()).as("type of %s", entry.getKey()).isNotBlank();
            if (entry.getValue() != null) {
                assertThat(property.path("defaultValue").isMissingNode()).as("default of %s", entry.getKey()).isFalse();
                assertThat(property.path("defaultValue").asString()).as("default of %s", entry.getKey())
                        .isEqualTo(entry.getValue());
            } else {
                assertThat(property.has("defaultValue")).as("%s has no default", entry.getKey()).isFalse();
            }
        }
    }
}
