package io.dmsserve.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dmsserve.dms.DmsRule;
import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.scheduler.SchedulerSettings;
import io.dmsserve.scheduler.StepExecutor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Settings changed, checked, saved with their audit entries, applied to the real policy and scheduler, and
 * read back by a new instance on the same file (a restart).
 */
class AdminControlsTest {

    private static final Path MODEL = Path.of("src/test/resources/golden/tiny-qwen3-dms");

    @TempDir
    Path directory;
    private Checkpoint checkpoint;
    private StepExecutor executor;
    private Scheduler scheduler;
    private EvictionPolicy policy;

    @BeforeEach
    void start() {
        checkpoint = Checkpoint.open(MODEL);
        CpuBackend backend = new CpuBackend(checkpoint, 1);
        executor = StepExecutor.allocate(backend, 4, 4L << 20, 8);
        policy = EvictionPolicies.create("dms", 0f, checkpoint.config().dms());
        scheduler = new Scheduler(executor, new SchedulerSettings(16, 8, 64, Duration.ofMinutes(1)), policy);
    }

    @AfterEach
    void stop() {
        executor.close();
        checkpoint.close();
    }

    private AdminControls controls() {
        return new AdminControls(policy, scheduler, new SettingsStore(directory.resolve("admin/settings.json")),
                executor.cache().layers());
    }

    @Test
    void aChangeIsAppliedSavedAuditedAndSurvivesARestart() throws Exception {
        AdminControls controls = controls();
        assertThat(controls.current()).isEqualTo(new AdminSettings(true, 0f, null, 16, 8, 16));
        EvictionPolicy running = policy.forNewSequence();
        controls.change("alice", new SettingsUpdate(null, 1.25, List.of(0.0, -0.5), 24, 4, 2));
        assertThat(running.rule()).as("a running sequence: new threshold and offsets, its own window")
                .isEqualTo(new DmsRule(true, 16, 1.25f, new float[] {0f, -0.5f}));
        assertThat(policy.forNewSequence().window()).isEqualTo(24);
        assertThat(scheduler.maxRunning()).isEqualTo(4);
        assertThat(scheduler.maxWaiting()).isEqualTo(2);
        List<AuditEntry> audit = controls.store().recent(10);
        assertThat(audit).extracting(AuditEntry::field)
                .as("newest first; one change's entries in field order").containsExactly("maxWaiting", "maxRunning",
                        "window", "layerOffsets", "threshold");
        assertThat(audit).allSatisfy(e -> assertThat(e.user()).isEqualTo("alice"));
        assertThat(audit.get(4).oldValue()).isEqualTo("0.0");
        assertThat(audit.get(4).newValue()).isEqualTo("1.25");
        assertThat(Files.readAllLines(directory.resolve("admin/settings-audit.jsonl"))).hasSize(5);

        controls.change("bob", new SettingsUpdate(false, null, null, null, null, null));
        assertThat(running.rule().evicts()).isFalse();
        assertThat(controls.change("bob", new SettingsUpdate(false, null, null, null, null, null)))
                .as("no change, no entry").isNotNull();
        assertThat(controls.store().recent(10)).hasSize(6);

        // A restart: the configuration's values again, then the file's.
        policy = EvictionPolicies.create("dms", 0f, checkpoint.config().dms());
        scheduler = new Scheduler(executor, new SchedulerSettings(16, 8, 64, Duration.ofMinutes(1)), policy);
        AdminControls restarted = controls();
        assertThat(restarted.current()).isEqualTo(new AdminSettings(false, 1.25f, new float[] {0f, -0.5f}, 24, 4, 2));
        assertThat(policy.rule().evicts()).isFalse();
        assertThat(scheduler.maxRunning()).isEqualTo(4);
        assertThat(restarted.store().recent(1).get(0).user()).isEqualTo("bob");
    }

    @Test
    void badValuesAreRefusedWithAMessagePerFieldAndChangeNothing() {
        AdminControls controls = controls();
        assertThatThrownBy(() -> controls.change("alice", new SettingsUpdate(null, 1e9, List.of(0.0, 0.0, 0.0, 0.0),
                0, 9, -1)))
                .isInstanceOfSatisfying(AdminControls.InvalidSettings.class, e -> assertThat(e.errors)
                        .containsEntry("threshold", "must be a number between -10000 and 10000")
                        .containsEntry("layerOffsets", "the model has 3 layers; got 4 offsets")
                        .containsEntry("window", "must be between 1 and 4095 tokens (the model's context is 4096)")
                        .containsEntry("maxWaiting", "must be between 0 and 1000000")
                        .hasEntrySatisfying("maxRunning", m -> assertThat(m).startsWith("must be between 1 and 8")));
        assertThat(controls.current()).isEqualTo(new AdminSettings(true, 0f, null, 16, 8, 16));
        assertThat(Files.exists(directory.resolve("admin/settings.json"))).isFalse();
        assertThat(controls.store().recent(10)).isEmpty();
    }

    @Test
    void aBrokenOrUnfittingFileStopsTheStartWithItsName() throws Exception {
        Path file = directory.resolve("admin/settings.json");
        Files.createDirectories(file.getParent());
        Files.writeString(file, "{\"threshold\": ");
        assertThatThrownBy(this::controls).hasMessageContaining(file.toString()).hasMessageContaining("cannot be read");
        Files.writeString(file, "{\"evictionEnabled\":true,\"threshold\":0,\"layerOffsets\":[],\"window\":16,"
                + "\"maxRunning\":999,\"maxWaiting\":1}");
        assertThatThrownBy(this::controls).hasMessageContaining("does not fit").hasMessageContaining("maxRunning");
    }

    @Test
    void aModelWithoutDmsSettingsOnlyChangesTheLimits() {
        policy = EvictionPolicies.create("none", 0f, checkpoint.config().dms());
        scheduler = new Scheduler(executor, new SchedulerSettings(16, 8, 64, Duration.ofMinutes(1)), policy);
        AdminControls controls = controls();
        assertThat(controls.evicting()).isFalse();
        assertThatThrownBy(() -> controls.change("alice", new SettingsUpdate(null, 1.0, null, null, null, null)))
                .hasMessageContaining("eviction policy 'none', which has no DMS settings");
        controls.change("alice", new SettingsUpdate(null, null, null, null, 3, 3));
        assertThat(scheduler.maxRunning()).isEqualTo(3);
    }
}
