package io.dmsserve.structured;

/** A JSON schema this server cannot enforce; {@code keyword} names the offending keyword and where it is. */
public final class SchemaException extends RuntimeException {

    private final String keyword;

    SchemaException(String keyword, String message) {
        super(message, null, false, false);
        this.keyword = keyword;
    }

    public String keyword() {
        return keyword;
    }
}
