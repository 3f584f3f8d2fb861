package io.dmsserve.admin;

/** One changed setting: who, when (ISO-8601, UTC), which field, from what to what. One JSON line in the log. */
public record AuditEntry(String at, String user, String field, String oldValue, String newValue) {
}
