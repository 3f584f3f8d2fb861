package io.dmsserve.config;

import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * {@code dms.admin.*}: the admin dashboard under /admin (README, "Admin dashboard").
 *
 * @param settingsFile where the settings an admin changes are kept (JSON), so they survive a restart; the audit
 *     log is written next to it (NAME-audit.jsonl for NAME.json). At start a file there wins over dms.model.threshold
 *     and dms.scheduler.*
 * @param users who may log in: name, password as a bcrypt hash ("{bcrypt}$2y$…" or "$2y$…"; plain text is refused)
 *     and role (VIEWER sees, ADMIN sees and changes). None: nobody can log in, except on the embedded model, where
 *     a user "admin" with a random password printed once at start is made
 * @param showPrompts show prompt text on the requests page (off: lengths only)
 * @param loginAttempts failed logins from one address for one user name (four times as many for one address over
 *     all names) before further attempts are answered 429 for the lockout
 * @param loginLockout how long logins stay refused after too many failures
 */
@Validated
@ConfigurationProperties("dms.admin")
public record AdminProperties(@DefaultValue("dms-admin/settings.json") @NotNull String settingsFile,
        @DefaultValue List<User> users, @DefaultValue("false") boolean showPrompts,
        @DefaultValue("5") @Min(1) int loginAttempts, @DefaultValue("5m") @NotNull Duration loginLockout) {

    public AdminProperties {
        users = users == null ? List.of() : List.copyOf(users);
    }

    /** A dashboard user; the password is a bcrypt hash, never the password itself. */
    public record User(String name, String password, Role role) {
    }

    public enum Role {
        /** Sees every page. */
        VIEWER,
        /** Sees every page and changes the settings. */
        ADMIN
    }
}
