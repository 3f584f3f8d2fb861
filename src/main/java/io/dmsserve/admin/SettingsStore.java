package io.dmsserve.admin;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;

/**
 * The settings file and the audit log next to it ({@code settings.json} and {@code settings-audit.jsonl}): the
 * settings are replaced whole through a temporary file and an atomic move, so a crash leaves the old or the new
 * file, never half of one; the audit log is appended, one JSON object a line, and never rewritten.
 */
final class SettingsStore {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final Path settings;
    private final Path audit;
    private final List<AuditEntry> entries = new ArrayList<>(); // guarded by this, oldest first

    SettingsStore(Path settings) {
        this.settings = settings.toAbsolutePath().normalize();
        String name = this.settings.getFileName().toString();
        String stem = name.endsWith(".json") ? name.substring(0, name.length() - 5) : name;
        this.audit = this.settings.resolveSibling(stem + "-audit.jsonl");
        if (Files.exists(audit)) {
            try {
                int line = 0;
                for (String text : Files.readAllLines(audit, StandardCharsets.UTF_8)) {
                    line++;
                    if (!text.isBlank()) {
                        try {
                            entries.add(JSON.readValue(text, AuditEntry.class));
                        } catch (JacksonException e) {
                            throw new IllegalStateException("the admin audit log " + audit + " line " + line
                                    + " is not an audit entry: " + e.getOriginalMessage());
                        }
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the admin audit log " + audit + ": " + e.getMessage(), e);
            }
        }
    }

    Path settingsFile() {
        return settings;
    }

    Path auditFile() {
        return audit;
    }

    /** The saved settings, if a file is there. */
    Optional<AdminSettings> load() {
        if (!Files.exists(settings)) {
            return Optional.empty();
        }
        try {
            return Optional.of(JSON.readValue(settings.toFile(), AdminSettings.class));
        } catch (JacksonException e) {
            throw new IllegalStateException("the admin settings file " + settings + " cannot be read ("
                    + e.getOriginalMessage() + "); fix it or delete it to start from the configuration");
        }
    }

    synchronized void save(AdminSettings value, List<AuditEntry> changes) {
        try {
            Files.createDirectories(settings.getParent());
            Path temporary = settings.resolveSibling(settings.getFileName() + ".tmp");
            Files.writeString(temporary, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(value),
                    StandardCharsets.UTF_8);
            Files.move(temporary, settings, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            StringBuilder lines = new StringBuilder();
            for (AuditEntry entry : changes) {
                lines.append(JSON.writeValueAsString(entry)).append('\n');
            }
            Files.writeString(audit, lines, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
            entries.addAll(changes);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the admin settings to " + settings + ": " + e.getMessage(), e);
        }
    }

    /** The last {@code count} audit entries, newest first. */
    synchronized List<AuditEntry> recent(int count) {
        List<AuditEntry> out = new ArrayList<>(entries.subList(Math.max(0, entries.size() - count), entries.size()));
        Collections.reverse(out);
        return out;
    }
}
