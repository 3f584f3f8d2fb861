package io.dmsserve;

import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaAccess;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaMethod;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.platform.commons.annotation.Testable;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.core.annotation.MergedAnnotation;
import org.springframework.core.annotation.MergedAnnotations;
import org.springframework.core.annotation.MergedAnnotations.SearchStrategy;

/**
 * The test tiers of pom.xml, checked on the compiled test classes. surefire runs {@code *Test}, failsafe
 * {@code *IT}, nothing else runs, so a class named any other way would silently never run; and the name must
 * match what the class does:
 * <ul>
 *   <li>{@code *IT}: starts the real server on a port ({@code @SpringBootTest} with RANDOM_PORT or
 *       DEFINED_PORT, directly, through a meta-annotation or a superclass), starts a child process, or opens
 *       network connections itself (sockets, the JDK's HttpClient, WebClient);</li>
 *   <li>{@code *Test}: none of these (a {@code @WebFluxTest} slice is a {@code *Test}: WebTestClient calls the
 *       handlers without a port).</li>
 * </ul>
 */
class TestTiersTest {

    private static JavaClasses tests;
    private static Map<String, JavaClass> testClasses;

    @BeforeAll
    static void importTestClasses() {
        tests = new ClassFileImporter().withImportOption(ImportOption.Predefined.ONLY_INCLUDE_TESTS)
                .importPackages("io.dmsserve");
        testClasses = new TreeMap<>();
        for (JavaClass c : tests) {
            if (c.isTopLevelClass() && !c.getModifiers().contains(com.tngtech.archunit.core.domain.JavaModifier.ABSTRACT)
                    && hasTests(c)) {
                testClasses.put(c.getName(), c);
            }
        }
    }

    @Test
    void theCheckSeesTheTestClasses() {
        // Guards the checks below against an import that finds nothing (they would all pass).
        assertThat(testClasses).containsKeys(TestTiersTest.class.getName(), PackagedJarIT.class.getName(),
                "io.dmsserve.api.ErrorsIT", "io.dmsserve.api.ApiErrorsSliceTest", "io.dmsserve.jinja.TemplateTest");
        assertThat(testClasses).doesNotContainKeys("io.dmsserve.bench.ServingBenchmark", "io.dmsserve.api.Http");
    }

    @Test
    void everyTestClassIsNamedForOneOfTheTwoPlugins() {
        List<String> misnamed = testClasses.values().stream().map(JavaClass::getSimpleName)
                .filter(name -> !name.endsWith("Test") && !name.endsWith("IT")).toList();
        assertThat(misnamed).as("test classes that neither surefire (*Test) nor failsafe (*IT) would run").isEmpty();
    }

    @Test
    void unitTestsStartNoServerOnAPortNoProcessAndUseNoNetwork() {
        List<String> wrong = new ArrayList<>();
        for (JavaClass c : testClasses.values()) {
            if (c.getSimpleName().endsWith("Test")) {
                if (startsServerOnAPort(c)) {
                    wrong.add(c.getName() + " starts the server on a port");
                }
                if (startsAProcess(c)) {
                    wrong.add(c.getName() + " starts a process");
                }
                if (usesTheNetwork(c)) {
                    wrong.add(c.getName() + " opens network connections");
                }
            }
        }
        assertThat(wrong).as("*Test classes that belong in failsafe (rename them *IT)").isEmpty();
    }

    @Test
    void integrationTestsNeedTheirTier() {
        List<String> wrong = testClasses.values().stream()
                .filter(c -> c.getSimpleName().endsWith("IT") && !startsServerOnAPort(c) && !startsAProcess(c)
                        && !usesTheNetwork(c))
                .map(JavaClass::getName).toList();
        assertThat(wrong).as("*IT classes with no server on a port, no child process, no network (rename them *Test)")
                .isEmpty();
    }

    /** Test methods (JUnit's @Testable: @Test, @ParameterizedTest, ...) in the class, its supertypes or its nested classes. */
    private static boolean hasTests(JavaClass c) {
        for (JavaMethod m : c.getAllMethods()) {
            if (m.isAnnotatedWith(Testable.class) || m.isMetaAnnotatedWith(Testable.class)) {
                return true;
            }
        }
        return nested(c).stream().filter(n -> n != c).anyMatch(TestTiersTest::hasTests);
    }

    private static boolean startsServerOnAPort(JavaClass c) {
        MergedAnnotation<SpringBootTest> boot = MergedAnnotations.from(c.reflect(), SearchStrategy.TYPE_HIERARCHY)
                .get(SpringBootTest.class);
        if (!boot.isPresent()) {
            return false;
        }
        WebEnvironment web = boot.getEnum("webEnvironment", WebEnvironment.class);
        return web == WebEnvironment.RANDOM_PORT || web == WebEnvironment.DEFINED_PORT;
    }

    /** Code of the class itself or of its nested, inner, anonymous classes (lambdas included) that starts a process. */
    private static boolean startsAProcess(JavaClass c) {
        return accesses(c, target -> target.equals(ProcessBuilder.class.getName()), "exec", Runtime.class.getName());
    }

    /** The same for network clients and servers: sockets, the JDK's HTTP client, Spring's WebClient. */
    private static boolean usesTheNetwork(JavaClass c) {
        return accesses(c, target -> NETWORK.stream().anyMatch(target::startsWith), null, null);
    }

    private static final List<String> NETWORK = List.of("java.net.Socket", "java.net.ServerSocket",
            "java.net.http.", "java.nio.channels.SocketChannel", "java.nio.channels.ServerSocketChannel",
            "org.springframework.web.reactive.function.client.WebClient");

    private static boolean accesses(JavaClass c, java.util.function.Predicate<String> owner, String method,
            String methodOwner) {
        for (JavaClass code : nested(c)) {
            for (JavaAccess<?> access : code.getAccessesFromSelf()) {
                String target = access.getTargetOwner().getName();
                if (owner.test(target) || target.equals(methodOwner) && access.getName().equals(method)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static List<JavaClass> nested(JavaClass c) {
        return tests.stream().filter(t -> t.equals(c) || t.getName().startsWith(c.getName() + "$")).toList();
    }
}
