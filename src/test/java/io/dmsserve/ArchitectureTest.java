package io.dmsserve;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The package rules of DESIGN.md §2 and §7, checked on the compiled main classes: the engine is a plain
 * Java library the Spring layer drives, packages form no cycle, and the API reaches the engine only
 * through the scheduler.
 */
class ArchitectureTest {

    private static JavaClasses main;

    @BeforeAll
    static void importMainClasses() {
        main = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.dmsserve");
    }

    @Test
    void theEngineLibraryIsFreeOfSpring() {
        noClasses().that().resideInAnyPackage("io.dmsserve.engine..", "io.dmsserve.kvcache..", "io.dmsserve.dms..",
                "io.dmsserve.sampling..", "io.dmsserve.scheduler..", "io.dmsserve.tokenizer..", "io.dmsserve.jinja..",
                "io.dmsserve.cli..", "io.dmsserve.chat..", "io.dmsserve.structured..")
                .should().dependOnClassesThat().resideInAnyPackage("org.springframework..")
                .because("DESIGN.md §2: the engine is a plain Java library the Spring layer drives")
                .check(main);
    }

    @Test
    void packagesFormNoCycle() {
        slices().matching("io.dmsserve.(**)").should().beFreeOfCycles().check(main);
    }

    @Test
    void theApiReachesTheEngineOnlyThroughTheScheduler() {
        noClasses().that().resideInAPackage("io.dmsserve.api..")
                .should().dependOnClassesThat().resideInAnyPackage("io.dmsserve.engine..")
                .because("requests go through the scheduler, which owns admission, batching and the KV cache")
                .check(main);
    }

    @Test
    void nothingDependsOnTheAdminDashboard() {
        noClasses().that().resideOutsideOfPackage("io.dmsserve.admin..")
                .should().dependOnClassesThat().resideInAPackage("io.dmsserve.admin..")
                .because("the dashboard reads the bookkeeping and moves settings through the dms and scheduler"
                        + " packages' own entry points; the engine runs the same without it")
                .check(main);
    }

    @Test
    void theLowLevelPackagesKnowNothingAboveThem() {
        noClasses().that().resideInAnyPackage("io.dmsserve.dms..", "io.dmsserve.sampling..", "io.dmsserve.chat..",
                        "io.dmsserve.structured..")
                .should().dependOnClassesThat().resideInAnyPackage("io.dmsserve.engine..", "io.dmsserve.kvcache..",
                        "io.dmsserve.scheduler..", "io.dmsserve.api..", "io.dmsserve.config..")
                .check(main);
        noClasses().that().resideInAPackage("io.dmsserve.kvcache..")
                .should().dependOnClassesThat().resideInAnyPackage("io.dmsserve.engine..", "io.dmsserve.scheduler..",
                        "io.dmsserve.api..", "io.dmsserve.config..")
                .because("the KV bookkeeping is shared by every backend and knows none of them")
                .check(main);
        noClasses().that().resideInAPackage("io.dmsserve.engine..")
                .should().dependOnClassesThat().resideInAnyPackage("io.dmsserve.scheduler..", "io.dmsserve.api..",
                        "io.dmsserve.config..")
                .check(main);
    }
}
