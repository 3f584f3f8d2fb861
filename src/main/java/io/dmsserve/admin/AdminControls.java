package io.dmsserve.admin;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.dms.EvictionSettings;
import io.dmsserve.scheduler.Scheduler;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The settings an admin changes, applied to the running engine: the DMS switch, threshold and offsets reach
 * running sequences at their next step (their rule is read from the policy each step), the window applies to
 * sequences that start from now on, the limits to the next step and submission. Every change is checked
 * first, written to the settings file and the audit log, then applied: what runs is always what is saved.
 */
final class AdminControls {

    private static final Logger log = LoggerFactory.getLogger(AdminControls.class);
    static final double MAX_ABS_THRESHOLD = 10_000;
    static final int MAX_WAITING = 1_000_000;

    /** Validation failed: one message per field, as the form and the Problem Details show them. */
    static final class InvalidSettings extends RuntimeException {
        final Map<String, String> errors;

        InvalidSettings(Map<String, String> errors) {
            super(String.join("; ", errors.entrySet().stream().map(e -> e.getKey() + ": " + e.getValue()).toList()));
            this.errors = Map.copyOf(errors);
        }
    }

    private final EvictionPolicy policy;
    private final Scheduler scheduler;
    private final SettingsStore store;
    private final int layers;
    private final int contextLength;

    AdminControls(EvictionPolicy policy, Scheduler scheduler, SettingsStore store, int layers) {
        this.policy = policy;
        this.scheduler = scheduler;
        this.store = store;
        this.layers = layers;
        this.contextLength = scheduler.contextLength();
        store.load().ifPresent(saved -> {
            Map<String, String> errors = SettingsUpdate.newErrors();
            check(saved, errors, true);
            if (!errors.isEmpty()) {
                throw new IllegalStateException("the admin settings file " + store.settingsFile() + " does not fit"
                        + " this model and server: " + new InvalidSettings(errors).getMessage()
                        + "; fix it or delete it to start from the configuration");
            }
            apply(saved);
            log.info("Admin settings from {}: {}", store.settingsFile(), describe(saved));
        });
    }

    /** Whether the model's policy has DMS settings (a policy that keeps every token has none). */
    boolean evicting() {
        return EvictionPolicies.settings(policy) != null;
    }

    String policyName() {
        return policy.name();
    }

    int layers() {
        return layers;
    }

    int maxRunningCeiling() {
        return scheduler.maxRunningCeiling();
    }

    int contextLength() {
        return contextLength;
    }

    SettingsStore store() {
        return store;
    }

    AdminSettings current() {
        EvictionSettings dms = EvictionPolicies.settings(policy);
        if (dms == null) {
            return new AdminSettings(false, Float.NaN, new float[0], 0, scheduler.maxRunning(), scheduler.maxWaiting());
        }
        return new AdminSettings(dms.enabled(), dms.threshold(), dms.layerOffsets(), dms.window(),
                scheduler.maxRunning(), scheduler.maxWaiting());
    }

    /**
     * Checks, saves, audits and applies a change; returns the settings now in force.
     *
     * @throws InvalidSettings naming every field that is wrong; nothing changes then
     */
    synchronized AdminSettings change(String user, SettingsUpdate update) {
        AdminSettings before = current();
        Map<String, String> errors = SettingsUpdate.newErrors();
        AdminSettings after = merge(before, update, errors);
        if (!errors.isEmpty()) {
            throw new InvalidSettings(errors);
        }
        String at = Instant.now().truncatedTo(ChronoUnit.MILLIS).toString();
        List<AuditEntry> changes = new ArrayList<>();
        for (String field : AdminSettings.FIELDS) {
            String old = before.value(field);
            String now = after.value(field);
            if (!old.equals(now)) {
                changes.add(new AuditEntry(at, user, field, old, now));
            }
        }
        if (changes.isEmpty()) {
            return before;
        }
        store.save(after, changes);
        apply(after);
        log.info("Admin {} changed the settings: {}", user, describe(after));
        return after;
    }

    /**
     * What the settings would be after the update, with a message for each field that is wrong. Fields missing
     * from the update (null: absent, or not a number on the form) keep their values and are not checked again.
     */
    Map<String, String> problems(SettingsUpdate update) {
        Map<String, String> errors = SettingsUpdate.newErrors();
        merge(current(), update, errors);
        return errors;
    }

    private AdminSettings merge(AdminSettings before, SettingsUpdate update, Map<String, String> errors) {
        if (!evicting() && (update.evictionEnabled() != null && update.evictionEnabled() || update.threshold() != null
                || update.layerOffsets() != null && !update.layerOffsets().isEmpty() || update.window() != null)) {
            errors.put("evictionEnabled", "the model is served with eviction policy '" + policy.name()
                    + "', which has no DMS settings; only the scheduler limits can change");
        }
        float[] offsets = before.layerOffsets();
        if (update.layerOffsets() != null) {
            offsets = new float[update.layerOffsets().size()];
            for (int i = 0; i < offsets.length; i++) {
                Double value = update.layerOffsets().get(i);
                offsets[i] = value == null ? Float.NaN : value.floatValue();
            }
        }
        AdminSettings after = new AdminSettings(
                update.evictionEnabled() != null ? update.evictionEnabled() : before.evictionEnabled(),
                update.threshold() != null ? update.threshold().floatValue() : before.threshold(), offsets,
                update.window() != null ? update.window() : before.window(),
                update.maxRunning() != null ? update.maxRunning() : before.maxRunning(),
                update.maxWaiting() != null ? update.maxWaiting() : before.maxWaiting());
        if (update.threshold() != null && !Double.isFinite(update.threshold())) {
            errors.put("threshold", "must be a finite number");
        }
        check(after, errors, evicting());
        return after;
    }

    private void check(AdminSettings s, Map<String, String> errors, boolean dms) {
        if (dms) {
            if (!Float.isFinite(s.threshold()) || Math.abs(s.threshold()) > MAX_ABS_THRESHOLD) {
                errors.putIfAbsent("threshold", "must be a number between " + (int) -MAX_ABS_THRESHOLD + " and "
                        + (int) MAX_ABS_THRESHOLD);
            }
            float[] offsets = s.layerOffsets();
            if (offsets.length > layers) {
                errors.put("layerOffsets", "the model has " + layers + " layers; got " + offsets.length + " offsets");
            } else {
                for (int l = 0; l < offsets.length; l++) {
                    if (!Float.isFinite(offsets[l]) || Math.abs(offsets[l]) > MAX_ABS_THRESHOLD) {
                        errors.put("layerOffsets", "the offset of layer " + l + " must be a number between "
                                + (int) -MAX_ABS_THRESHOLD + " and " + (int) MAX_ABS_THRESHOLD);
                        break;
                    }
                }
            }
            if (s.window() < 1 || s.window() >= contextLength) {
                errors.put("window", "must be between 1 and " + (contextLength - 1) + " tokens (the model's context is "
                        + contextLength + ")");
            }
        }
        if (s.maxRunning() < 1 || s.maxRunning() > scheduler.maxRunningCeiling()) {
            errors.put("maxRunning", "must be between 1 and " + scheduler.maxRunningCeiling() + " (the KV cache's"
                    + " page-table rows, fixed at start by dms.scheduler.max-running)");
        }
        if (s.maxWaiting() < 0 || s.maxWaiting() > MAX_WAITING) {
            errors.put("maxWaiting", "must be between 0 and " + MAX_WAITING);
        }
    }

    private void apply(AdminSettings s) {
        if (evicting()) {
            EvictionPolicies.apply(policy, new EvictionSettings(s.evictionEnabled(), s.threshold(), s.layerOffsets(),
                    s.window()));
        }
        scheduler.limits(s.maxRunning(), s.maxWaiting());
    }

    private static String describe(AdminSettings s) {
        StringBuilder out = new StringBuilder();
        for (String field : AdminSettings.FIELDS) {
            out.append(out.length() > 0 ? ", " : "").append(field).append('=').append(s.value(field));
        }
        return out.toString();
    }
}
