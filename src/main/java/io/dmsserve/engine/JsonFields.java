package io.dmsserve.engine;

import java.nio.file.Path;
import java.util.Optional;
import tools.jackson.databind.JsonNode;

/**
 * Typed access to the fields of one JSON object, where every failure names the file and the field.
 * Like Hugging Face, an explicit {@code null} counts as absent for optional fields.
 */
final class JsonFields {

    private final Path file;
    private final JsonNode object;

    JsonFields(Path file, JsonNode object) {
        this.file = file;
        this.object = object;
    }

    Path file() {
        return file;
    }

    /** The field's value, or empty when absent or null. */
    Optional<JsonNode> optional(String field) {
        JsonNode v = object.get(field);
        return v == null || v.isNull() ? Optional.empty() : Optional.of(v);
    }

    boolean present(String field) {
        return optional(field).isPresent();
    }

    int requiredInt(String field) {
        return toInt(field, required(field));
    }

    int optionalInt(String field, int fallback) {
        return optional(field).map(v -> toInt(field, v)).orElse(fallback);
    }

    double requiredDouble(String field) {
        return toDouble(field, required(field));
    }

    double optionalDouble(String field, double fallback) {
        return optional(field).map(v -> toDouble(field, v)).orElse(fallback);
    }

    boolean optionalBoolean(String field, boolean fallback) {
        return optional(field).map(v -> {
            if (!v.isBoolean()) {
                throw error(field, "must be true or false, got " + v);
            }
            return v.booleanValue();
        }).orElse(fallback);
    }

    Optional<String> optionalString(String field) {
        return optional(field).map(v -> {
            if (!v.isString()) {
                throw error(field, "must be a string, got " + v);
            }
            return v.stringValue();
        });
    }

    int toInt(String field, JsonNode v) {
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw error(field, "must be an integer, got " + v);
        }
        return v.intValue();
    }

    double toDouble(String field, JsonNode v) {
        if (!v.isNumber()) {
            throw error(field, "must be a number, got " + v);
        }
        return v.doubleValue();
    }

    CheckpointException error(String field, String detail) {
        return new CheckpointException(file, "field '" + field + "' " + detail);
    }

    private JsonNode required(String field) {
        JsonNode v = object.get(field);
        if (v == null) {
            throw error(field, "is missing");
        }
        if (v.isNull()) {
            throw error(field, "is null");
        }
        return v;
    }
}
