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
 *       DEFINED_PORT, directly, through a meta-annotation or a superclass) or starts a child process;</li>
 *   <li>{@code *Test}: neither.</li>
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
    void unitTestsStartNoServerOnAPortAndNoProcess() {
        List<String> wrong = new ArrayList<>();
        for (JavaClass c : testClasses.values()) {
            if (c.getSimpleName().endsWith("Test") && (startsServerOnAPort(c) || startsAProcess(c))) {
                wrong.add(c.getName() + (startsServerOnAPort(c) ? " starts the server on a port" : " starts a process"));
            }
        }
        assertThat(wrong).as("*Test classes that belong in failsafe (rename them *IT)").isEmpty();
    }

    @Test
    void integrationTestsNeedTheirTier() {
        List<String> wrong = testClasses.values().stream()
                .filter(c -> c.getSimpleName().endsWith("IT") && !startsServerOnAPort(c) && !startsAProcess(c))
                .map(JavaClass::getName).toList();
        assertThat(wrong).as("*IT classes with neither a server on a port nor a child process (rename them *Test)")
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

    /** Code of the class itself or of its nested, inner, anonymous classes that creates or starts a process. */
    private static boolean startsAProcess(JavaClass c) {
        for (JavaClass owner : nested(c)) {
            for (JavaAccess<?> access : owner.getAccessesFromSelf()) {
                String target = access.getTargetOwner().getName();
                String name = access.getName();
                if (target.equals(ProcessBuilder.class.getName())
                        || target.equals(Runtime.class.getName()) && name.equals("exec")) {
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
