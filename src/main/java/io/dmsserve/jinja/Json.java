package io.dmsserve.jinja;

import io.dmsserve.jinja.Values.PyError;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Python's json.dumps (the tojson filter transformers installs: ensure_ascii=False by default). */
final class Json {

    private final String indent;
    private final String itemSep;
    private final String keySep;
    private final boolean ensureAscii;
    private final boolean sortKeys;
    private final StringBuilder out = new StringBuilder();

    private Json(String indent, String itemSep, String keySep, boolean ensureAscii, boolean sortKeys) {
        this.indent = indent;
        this.itemSep = itemSep;
        this.keySep = keySep;
        this.ensureAscii = ensureAscii;
        this.sortKeys = sortKeys;
    }

    /** indent: null, an int or a string; separators: null or a 2-item sequence of strings. */
    static String dumps(Object value, boolean ensureAscii, Object indent, Object separators, boolean sortKeys) {
        String ind = null;
        if (indent instanceof String s) {
            ind = s;
        } else if (indent != null && Py.isIntLike(indent)) {
            ind = " ".repeat((int) Math.max(0, Py.toLong(indent)));
        } else if (indent != null) {
            throw new PyError("tojson indent must be an int or a string");
        }
        String itemSep = ind == null ? ", " : ",";
        String keySep = ": ";
        if (separators != null) {
            if (!(separators instanceof List<?> l) || l.size() != 2 || !(l.get(0) instanceof String)
                    || !(l.get(1) instanceof String)) {
                throw new PyError("tojson separators must be a pair of strings");
            }
            itemSep = (String) l.get(0);
            keySep = (String) l.get(1);
        }
        Json j = new Json(ind, itemSep, keySep, ensureAscii, sortKeys);
        j.write(value, 0);
        return j.out.toString();
    }

    private void newline(int level) {
        if (indent != null) {
            out.append('\n').append(indent.repeat(level));
        }
    }

    private void write(Object v, int level) {
        if (v == null) {
            out.append("null");
        } else if (v instanceof Boolean b) {
            out.append(b ? "true" : "false");
        } else if (Py.isInt(v)) {
            out.append(Py.toLong(v));
        } else if (v instanceof Double || v instanceof Float) {
            out.append(floatJson(((Number) v).doubleValue()));
        } else if (v instanceof String s) {
            string(s);
        } else if (v instanceof List<?> l) {
            if (l.isEmpty()) {
                out.append("[]");
                return;
            }
            out.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) {
                    out.append(itemSep);
                }
                newline(level + 1);
                write(l.get(i), level + 1);
            }
            newline(level);
            out.append(']');
        } else if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) {
                out.append("{}");
                return;
            }
            List<Map.Entry<?, ?>> entries = new ArrayList<>(m.entrySet());
            if (sortKeys) {
                entries.sort((a, b) -> Py.compare(a.getKey(), b.getKey(), "<"));
            }
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : entries) {
                if (!first) {
                    out.append(itemSep);
                }
                first = false;
                newline(level + 1);
                string(key(e.getKey()));
                out.append(keySep);
                write(e.getValue(), level + 1);
            }
            newline(level);
            out.append('}');
        } else {
            throw new PyError("Object of type " + Py.typeName(v) + " is not JSON serializable");
        }
    }

    private static String key(Object k) {
        if (k instanceof String s) {
            return s;
        } else if (k == null) {
            return "null";
        } else if (k instanceof Boolean b) {
            return b ? "true" : "false";
        } else if (Py.isInt(k)) {
            return Long.toString(Py.toLong(k));
        } else if (k instanceof Double d) {
            return floatJson(d);
        }
        throw new PyError("keys must be str, int, float, bool or None, not " + Py.typeName(k));
    }

    private static String floatJson(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        } else if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        return Py.floatRepr(d);
    }

    private void string(String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20 || (ensureAscii && c > 0x7e)) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
