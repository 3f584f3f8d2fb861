package io.dmsserve.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.dms.PolicyKind;
import io.dmsserve.engine.BackendKind;
import io.dmsserve.kvcache.KvCacheManager;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.support.DefaultListableBeanFactory;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.boot.diagnostics.FailureAnalyzer;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;
import org.springframework.core.io.support.SpringFactoriesLoader;
import org.springframework.core.io.support.SpringFactoriesLoader.ArgumentResolver;
import org.springframework.util.unit.DataSize;

/**
 * Every {@code dms.*} properties record bound as Spring Boot binds it at start-up, in a bare context: the
 * defaults, each property from its kebab-case name, the enums in any case, and bad values refused with the
 * report Spring Boot prints ("APPLICATION FAILED TO START"), which must name the property.
 */
class PropertiesBindingTest {

    @Configuration(proxyBeanMethods = false)
    @EnableConfigurationProperties({ApiProperties.class, ModelProperties.class, CpuProperties.class,
        BackendProperties.class, KvCacheProperties.class, SchedulerProperties.class})
    static class AllProperties {
    }

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withUserConfiguration(AllProperties.class);

    @Test
    void defaults() {
        runner.run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBean(ApiProperties.class)).isEqualTo(new ApiProperties(List.of(),
                    DataSize.ofMegabytes(1), 16, Duration.ofSeconds(1), null, 1024));
            assertThat(context.getBean(ModelProperties.class)).isEqualTo(new ModelProperties(null, null,
                    PolicyKind.AUTO, 0f));
            assertThat(context.getBean(CpuProperties.class)).isEqualTo(new CpuProperties(0, CpuProperties.Kernels.AUTO));
            assertThat(context.getBean(BackendProperties.class)).isEqualTo(new BackendProperties(BackendKind.AUTO));
            assertThat(context.getBean(KvCacheProperties.class)).isEqualTo(new KvCacheProperties(16,
                    DataSize.ofMegabytes(256), null, KvCacheManager.REPACK_DEFAULT));
            assertThat(context.getBean(SchedulerProperties.class)).isEqualTo(new SchedulerProperties(512, 256, 256,
                    Duration.ofMinutes(10), true));
            assertThat(context.getBean(ApiProperties.class).retryAfterSeconds()).isEqualTo(1);
            assertThat(context.getBean(CpuProperties.class).effectiveThreads())
                    .isEqualTo(Runtime.getRuntime().availableProcessors());
        });
    }

    @Test
    void everyPropertyBindsFromItsKebabCaseName() {
        runner.withPropertyValues(
                "dms.api.keys= sha256:" + "ab".repeat(32) + " , plain ,,",
                "dms.api.max-body-size=2KB",
                "dms.api.max-n=3",
                "dms.api.retry-after=2500ms",
                "dms.api.enable-thinking=false",
                "dms.api.constrained-reasoning-budget=64",
                "dms.model.path=/models/q",
                "dms.model.name=served",
                "dms.model.policy=none",
                "dms.model.threshold=0.75",
                "dms.cpu.threads=3",
                "dms.cpu.kernels=vector",
                "dms.backend=cuda",
                "dms.kv-cache.page-size=32",
                "dms.kv-cache.memory=64MB",
                "dms.kv-cache.fraction=0.9",
                "dms.kv-cache.repack=false",
                "dms.scheduler.max-waiting=0",
                "dms.scheduler.max-running=8",
                "dms.scheduler.step-tokens=128",
                "dms.scheduler.deadline=90s",
                "dms.scheduler.overlap=false").run(context -> {
                    assertThat(context).hasNotFailed();
                    ApiProperties api = context.getBean(ApiProperties.class);
                    assertThat(api).as("keys stripped, empty entries dropped").isEqualTo(new ApiProperties(
                            List.of("sha256:" + "ab".repeat(32), "plain"), DataSize.ofKilobytes(2), 3,
                            Duration.ofMillis(2500), false, 64));
                    assertThat(api.retryAfterSeconds()).as("whole seconds, rounded up").isEqualTo(3);
                    assertThat(context.getBean(ModelProperties.class)).isEqualTo(new ModelProperties("/models/q",
                            "served", PolicyKind.NONE, 0.75f));
                    assertThat(context.getBean(CpuProperties.class)).isEqualTo(new CpuProperties(3,
                            CpuProperties.Kernels.VECTOR));
                    assertThat(context.getBean(CpuProperties.class).effectiveThreads()).isEqualTo(3);
                    assertThat(context.getBean(BackendProperties.class)).isEqualTo(new BackendProperties(BackendKind.CUDA));
                    assertThat(context.getBean(KvCacheProperties.class)).isEqualTo(new KvCacheProperties(32,
                            DataSize.ofMegabytes(64), 0.9, false));
                    SchedulerProperties scheduler = context.getBean(SchedulerProperties.class);
                    assertThat(scheduler).isEqualTo(new SchedulerProperties(0, 8, 128, Duration.ofSeconds(90),
                            false));
                    assertThat(scheduler.settings().maxRunning()).isEqualTo(8);
                    assertThat(scheduler.settings().overlap()).isFalse();
                });
    }

    @Test
    void environmentStyleNamesBindToo() {
        // DMS_API_KEYS and DMS_MODEL_PATH as the environment gives them (relaxed binding).
        runner.withInitializer(context -> context.getEnvironment().getPropertySources().addFirst(
                new SystemEnvironmentPropertySource(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME,
                        Map.of("DMS_MODEL_PATH", "/models/env", "DMS_KV_CACHE_PAGE_SIZE", "8",
                                "DMS_API_KEYS", "k1,k2"))))
                .run(context -> {
            assertThat(context.getBean(ApiProperties.class).keys()).containsExactly("k1", "k2");
            assertThat(context.getBean(ModelProperties.class).path()).isEqualTo("/models/env");
            assertThat(context.getBean(KvCacheProperties.class).pageSize()).isEqualTo(8);
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"DMS", "dms", "Dms"})
    void policyBindsInAnyCase(String value) {
        runner.withPropertyValues("dms.model.policy=" + value)
                .run(context -> assertThat(context.getBean(ModelProperties.class).policy()).isEqualTo(PolicyKind.DMS));
    }

    @Test
    void backendAndKernelsBindFromLowerCase() {
        runner.withPropertyValues("dms.backend=cpu", "dms.cpu.kernels=scalar").run(context -> {
            assertThat(context.getBean(BackendProperties.class).backend()).isEqualTo(BackendKind.CPU);
            assertThat(context.getBean(CpuProperties.class).kernels()).isEqualTo(CpuProperties.Kernels.SCALAR);
        });
    }

    /**
     * A value that violates a constraint of the record: Spring Boot's report names the property by the record
     * component (camelCase for constructor-bound records, e.g. dms.kv-cache.pageSize, which binding accepts
     * too), its value and the constraint.
     */
    @ParameterizedTest(name = "{0}={1}")
    @CsvSource(delimiter = '|', value = {
        "dms.kv-cache.page-size|0|dms.kv-cache.pageSize|must be greater than or equal to 1",
        "dms.kv-cache.page-size|4097|dms.kv-cache.pageSize|must be less than or equal to 4096",
        "dms.kv-cache.fraction|0.99|dms.kv-cache.fraction|must be less than or equal to 0.95",
        "dms.scheduler.max-running|0|dms.scheduler.maxRunning|must be greater than or equal to 1",
        "dms.scheduler.max-waiting|-1|dms.scheduler.maxWaiting|must be greater than or equal to 0",
        "dms.scheduler.step-tokens|0|dms.scheduler.stepTokens|must be greater than or equal to 1",
        "dms.api.max-n|0|dms.api.maxN|must be greater than or equal to 1",
        "dms.api.max-n|1025|dms.api.maxN|must be less than or equal to 1024",
        "dms.cpu.threads|-1|dms.cpu.threads|must be greater than or equal to 0",
    })
    void valuesOutOfRangeAreRefusedNamingTheProperty(String property, String value, String printed, String reason) {
        runner.withPropertyValues(property + "=" + value).run(context -> {
            assertThat(context).hasFailed();
            String report = report(context.getStartupFailure());
            assertThat(report).as(report).contains("Binding to target").contains("failed:")
                    .contains("Property: " + printed + "\n    Value: \"" + value + "\"").contains("Reason: " + reason);
        });
    }

    /** A value of the wrong form: the report names the property as written, with its source and the cause. */
    @ParameterizedTest(name = "{0}={1}")
    @CsvSource(delimiter = '|', value = {
        "dms.model.policy|h2o|No enum constant io.dmsserve.dms.PolicyKind.h2o|AUTO,DMS,NONE",
        "dms.backend|tpu|No enum constant io.dmsserve.engine.BackendKind.tpu|AUTO,CPU,CUDA",
        "dms.cpu.kernels|avx|No enum constant io.dmsserve.config.CpuProperties.Kernels.avx|AUTO,SCALAR,VECTOR",
        "dms.model.threshold|high|java.lang.NumberFormatException|",
        "dms.scheduler.deadline|soon|soon' is not a valid duration|",
        "dms.kv-cache.memory|lots|lots' does not match data size pattern|",
    })
    void valuesOfTheWrongFormAreRefusedNamingTheProperty(String property, String value, String cause, String valid) {
        runner.withPropertyValues(property + "=" + value).run(context -> {
            assertThat(context).hasFailed();
            String report = report(context.getStartupFailure());
            assertThat(report).as(report).startsWith("Failed to bind properties under '" + property + "'")
                    .contains("Property: " + property + "\n    Value: \"" + value + "\"\n    Origin: \"" + property
                            + "\" from property source")
                    .contains(cause);
            if (valid != null) {
                assertThat(report).contains("The following values are valid:\n\n    "
                        + valid.replace(",", "\n    "));
            }
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"0B", "3GB"})
    void aMaxBodySizeOutsideOneByteToTwoGigabytesIsRefusedNamingTheProperty(String value) {
        runner.withPropertyValues("dms.api.max-body-size=" + value).run(context -> {
            assertThat(context).hasFailed();
            String report = report(context.getStartupFailure());
            // Checked in the record's constructor: the report names the group, the message the property.
            assertThat(report).as(report).startsWith("Failed to bind properties under 'dms.api'")
                    .contains("dms.api.max-body-size must be between 1B and 2GB, got "
                            + DataSize.parse(value).toBytes() + "B");
        });
    }

    /** What Spring Boot prints for a failed start: the description of the first failure analyzer that knows it. */
    private static String report(Throwable failure) {
        List<FailureAnalyzer> analyzers = SpringFactoriesLoader.forDefaultResourceLocation(
                PropertiesBindingTest.class.getClassLoader()).load(FailureAnalyzer.class,
                ArgumentResolver.of(BeanFactory.class, new DefaultListableBeanFactory())
                        .and(Environment.class, new StandardEnvironment()));
        FailureAnalysis analysis = analyzers.stream().map(a -> a.analyze(failure)).filter(Objects::nonNull).findFirst()
                .orElseThrow(() -> new AssertionError("no failure analysis for " + failure, failure));
        return analysis.getDescription() + "\n" + analysis.getAction();
    }
}
