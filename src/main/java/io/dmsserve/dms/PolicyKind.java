package io.dmsserve.dms;

/** Which eviction policy serves a model ({@code dms.model.policy}). */
public enum PolicyKind {
    /** {@link #DMS} for a DMS checkpoint, {@link #NONE} for a plain one. */
    AUTO,
    /** The model's learned decisions, compared with a threshold. */
    DMS,
    /** Keep every token. A DMS model still has its decision channel zeroed. */
    NONE;

    /** AUTO made concrete for a model with or without a decision channel. */
    public PolicyKind resolve(boolean dmsModel) {
        return this == AUTO ? (dmsModel ? DMS : NONE) : this;
    }

    /** Case-insensitive name as written in configuration, the CLI or an admin request. */
    public static PolicyKind parse(String name) {
        if (name == null || name.isBlank()) {
            return AUTO;
        }
        for (PolicyKind kind : values()) {
            if (kind.name().equalsIgnoreCase(name.strip())) {
                return kind;
            }
        }
        throw new IllegalArgumentException("unknown eviction policy '" + name + "'; known: auto, dms, none");
    }

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
