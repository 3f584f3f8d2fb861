package io.dmsserve.api;

import java.math.BigInteger;
import tools.jackson.databind.JsonNode;

/**
 * Typed, named access to the fields of a JSON request object. Absent and null fields read as null (the
 * default applies); a value of the wrong type or out of range is a 400 naming the parameter.
 */
final class Fields {

    private static final BigInteger INT_MAX = BigInteger.valueOf(Integer.MAX_VALUE);

    private final JsonNode node;
    private final String prefix;

    private Fields(JsonNode node, String prefix) {
        this.node = node;
        this.prefix = prefix;
    }

    /** The request body, which must be a JSON object. */
    static Fields body(JsonNode root) {
        if (root == null || !root.isObject()) {
            throw ApiException.invalid(null, "invalid_type", "The request body must be a JSON object, but got "
                    + describe(root) + ".");
        }
        return new Fields(root, "");
    }

    /** A nested object, e.g. {@code stream_options}; null when absent or null. */
    Fields object(String name) {
        JsonNode value = get(name);
        if (value == null) {
            return null;
        }
        if (!value.isObject()) {
            throw ApiException.invalidType(param(name), "an object", describe(value));
        }
        return new Fields(value, param(name) + ".");
    }

    static Fields of(JsonNode object, String param) {
        if (object == null || !object.isObject()) {
            throw ApiException.invalidType(param, "an object", describe(object));
        }
        return new Fields(object, param + ".");
    }

    JsonNode node() {
        return node;
    }

    String param(String name) {
        return prefix + name;
    }

    /** The raw value; null when absent or JSON null. */
    JsonNode get(String name) {
        JsonNode value = node.get(name);
        return value == null || value.isNull() ? null : value;
    }

    String string(String name) {
        JsonNode value = get(name);
        if (value == null) {
            return null;
        }
        if (!value.isString()) {
            throw ApiException.invalidType(param(name), "a string", describe(value));
        }
        return value.stringValue();
    }

    Boolean bool(String name) {
        JsonNode value = get(name);
        if (value == null) {
            return null;
        }
        if (!value.isBoolean()) {
            throw ApiException.invalidType(param(name), "a boolean", describe(value));
        }
        return value.booleanValue();
    }

    /** An integer in [min, max]; larger integers are clamped to max when {@code clampHigh}. */
    Integer integer(String name, int min, int max, boolean clampHigh) {
        JsonNode value = get(name);
        if (value == null) {
            return null;
        }
        BigInteger v = integral(name, value);
        if (v.compareTo(BigInteger.valueOf(min)) < 0) {
            throw ApiException.invalidValue(param(name), "integer below minimum value. Expected a value >= " + min
                    + ", but got " + shorten(v) + " instead.");
        }
        if (v.compareTo(BigInteger.valueOf(max)) > 0) {
            if (clampHigh) {
                return max;
            }
            throw ApiException.invalidValue(param(name), "integer above maximum value. Expected a value <= " + max
                    + ", but got " + shorten(v) + " instead.");
        }
        return v.intValue();
    }

    Long longInteger(String name) {
        JsonNode value = get(name);
        if (value == null) {
            return null;
        }
        BigInteger v = integral(name, value);
        if (v.bitLength() > 63) {
            throw ApiException.invalidValue(param(name), "integer out of range. Expected a 64-bit integer, but got "
                    + shorten(v) + " instead.");
        }
        return v.longValue();
    }

    /** A finite number in [min, max], or (min, max] when {@code minExclusive}. */
    Double number(String name, double min, boolean minExclusive, double max) {
        JsonNode value = get(name);
        if (value == null) {
            return null;
        }
        if (!value.isNumber()) {
            throw ApiException.invalidType(param(name), "a number", describe(value));
        }
        // Through Number: Jackson's own doubleValue() throws for integers beyond the range of double.
        double v = value.numberValue().doubleValue();
        if (v == Double.NEGATIVE_INFINITY) {
            throw ApiException.invalidValue(param(name), "number below minimum value. Expected a value "
                    + (minExclusive ? "> " : ">= ") + plain(min) + ", but got a smaller number instead.");
        }
        if (!Double.isFinite(v) || v > max) {
            throw ApiException.invalidValue(param(name), "number above maximum value. Expected a value <= "
                    + plain(max) + ", but got " + (Double.isFinite(v) ? plain(v) : "a larger number") + " instead.");
        }
        if (v < min || (minExclusive && v == min)) {
            throw ApiException.invalidValue(param(name), "number below minimum value. Expected a value "
                    + (minExclusive ? "> " : ">= ") + plain(min) + ", but got " + plain(v) + " instead.");
        }
        return v;
    }

    private BigInteger integral(String name, JsonNode value) {
        if (value.isIntegralNumber()) {
            return value.bigIntegerValue();
        }
        if (value.isNumber() && !value.isBigDecimal()) {
            double d = value.numberValue().doubleValue();
            // 16.0 is taken as 16, as Python-based servers do; 16.5 is not an integer.
            if (Double.isFinite(d) && d == Math.rint(d) && Math.abs(d) < 1e18) {
                return BigInteger.valueOf((long) d);
            }
        }
        throw ApiException.invalidType(param(name), "an integer", describe(value));
    }

    private static String shorten(BigInteger v) {
        String s = v.toString();
        return s.length() <= 40 ? s : s.substring(0, 20) + "...(" + s.length() + " digits)";
    }

    private static String plain(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }

    /** The JSON type of a value, for error messages. */
    static String describe(JsonNode value) {
        if (value == null || value.isMissingNode()) {
            return "nothing";
        }
        if (value.isNull()) {
            return "null";
        }
        if (value.isString()) {
            return "a string";
        }
        if (value.isBoolean()) {
            return "a boolean";
        }
        if (value.isIntegralNumber()) {
            return "an integer";
        }
        if (value.isNumber()) {
            return "a decimal number";
        }
        if (value.isArray()) {
            return "an array";
        }
        if (value.isObject()) {
            return "an object";
        }
        return "an unsupported value";
    }
}
