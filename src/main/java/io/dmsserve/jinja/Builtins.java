package io.dmsserve.jinja;

import io.dmsserve.jinja.Values.NamedCallable;
import io.dmsserve.jinja.Values.Namespace;
import io.dmsserve.jinja.Values.PyCallable;
import io.dmsserve.jinja.Values.PyError;
import io.dmsserve.jinja.Values.PyTuple;
import io.dmsserve.jinja.Values.RaisedError;
import io.dmsserve.jinja.Values.Undefined;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Clock;
import java.time.ZonedDateTime;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** jinja2's built-in filters and tests, plus the globals transformers adds for chat templates. */
final class Builtins {

    private Builtins() {
    }

    @FunctionalInterface
    interface Filter {
        Object apply(Object value, List<Object> args, Map<String, Object> kwargs);
    }

    @FunctionalInterface
    interface Test {
        boolean test(Object value, List<Object> args, Map<String, Object> kwargs);
    }

    static final Map<String, Filter> FILTERS = new HashMap<>();
    static final Map<String, Test> TESTS = new HashMap<>();

    static Filter filter(String name) {
        return FILTERS.get(name);
    }

    static Test test(String name) {
        return TESTS.get(name);
    }

    /** Globals: namespace, range, dict, raise_exception, strftime_now (transformers' additions). */
    static Map<String, Object> globals(Clock clock) {
        Map<String, Object> g = new HashMap<>();
        g.put("namespace", new NamedCallable("namespace", (a, k) -> {
            Namespace ns = new Namespace();
            if (a.size() > 1) {
                throw new PyError("namespace() takes at most 1 positional argument");
            }
            if (a.size() == 1) {
                if (!(a.get(0) instanceof Map<?, ?> m)) {
                    throw new PyError("namespace() positional argument must be a dict");
                }
                m.forEach((key, v) -> ns.attrs.put(Py.str(key), v));
            }
            ns.attrs.putAll(k);
            return ns;
        }));
        g.put("range", new NamedCallable("range", (a, k) -> {
            if (!k.isEmpty() || a.isEmpty() || a.size() > 3 || !a.stream().allMatch(Py::isIntLike)) {
                throw new PyError("range() takes 1 to 3 integer arguments");
            }
            long start = a.size() == 1 ? 0 : Py.toLong(a.get(0));
            long stop = Py.toLong(a.get(a.size() == 1 ? 0 : 1));
            long step = a.size() == 3 ? Py.toLong(a.get(2)) : 1;
            if (step == 0) {
                throw new PyError("range() arg 3 must not be zero");
            }
            List<Object> out = new ArrayList<>();
            for (long i = start; step > 0 ? i < stop : i > stop; i += step) {
                if (out.size() > 100_000) {
                    throw new PyError("range too big, maximum size is 100000");
                }
                out.add(i);
            }
            return out;
        }));
        g.put("dict", new NamedCallable("dict", (a, k) -> {
            Map<Object, Object> d = new LinkedHashMap<>();
            if (a.size() == 1 && a.get(0) instanceof Map<?, ?> m) {
                d.putAll(m);
            } else if (!a.isEmpty()) {
                throw new PyError("dict() supports only keyword arguments or one dict");
            }
            d.putAll(k);
            return d;
        }));
        g.put("raise_exception", new NamedCallable("raise_exception", (a, k) -> {
            throw new RaisedError(a.isEmpty() ? "" : Py.str(a.get(0)));
        }));
        g.put("strftime_now", new NamedCallable("strftime_now", (a, k) -> {
            String fmt = new Args("strftime_now", a, k, "format").str(0, null);
            return strftime(ZonedDateTime.now(clock), fmt);
        }));
        return g;
    }

    /** Python's datetime.strftime for the common directives (C locale). */
    static String strftime(ZonedDateTime t, String fmt) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%' || i + 1 >= fmt.length()) {
                b.append(c);
                continue;
            }
            char d = fmt.charAt(++i);
            switch (d) {
                case 'Y' -> b.append(t.getYear());
                case 'y' -> b.append(String.format("%02d", t.getYear() % 100));
                case 'm' -> b.append(String.format("%02d", t.getMonthValue()));
                case 'd' -> b.append(String.format("%02d", t.getDayOfMonth()));
                case 'e' -> b.append(String.format("%2d", t.getDayOfMonth()));
                case '-' -> {
                    char e = i + 1 < fmt.length() ? fmt.charAt(++i) : '-';
                    b.append(switch (e) {
                        case 'd' -> Integer.toString(t.getDayOfMonth());
                        case 'm' -> Integer.toString(t.getMonthValue());
                        case 'H' -> Integer.toString(t.getHour());
                        case 'I' -> Integer.toString((t.getHour() + 11) % 12 + 1);
                        case 'M' -> Integer.toString(t.getMinute());
                        case 'S' -> Integer.toString(t.getSecond());
                        case 'j' -> Integer.toString(t.getDayOfYear());
                        default -> "%-" + e;
                    });
                }
                case 'H' -> b.append(String.format("%02d", t.getHour()));
                case 'I' -> b.append(String.format("%02d", (t.getHour() + 11) % 12 + 1));
                case 'M' -> b.append(String.format("%02d", t.getMinute()));
                case 'S' -> b.append(String.format("%02d", t.getSecond()));
                case 'f' -> b.append(String.format("%06d", t.getNano() / 1000));
                case 'p' -> b.append(t.getHour() < 12 ? "AM" : "PM");
                case 'j' -> b.append(String.format("%03d", t.getDayOfYear()));
                case 'a' -> b.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.US));
                case 'A' -> b.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.US));
                case 'b', 'h' -> b.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.US));
                case 'B' -> b.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.US));
                case 'w' -> b.append(t.getDayOfWeek().getValue() % 7);
                case 'u' -> b.append(t.getDayOfWeek().getValue());
                case 'Z' -> b.append("");
                case 'z' -> b.append("");
                case 'F' -> b.append(String.format("%d-%02d-%02d", t.getYear(), t.getMonthValue(), t.getDayOfMonth()));
                case 'T' -> b.append(String.format("%02d:%02d:%02d", t.getHour(), t.getMinute(), t.getSecond()));
                case 'D' -> b.append(String.format("%02d/%02d/%02d", t.getMonthValue(), t.getDayOfMonth(),
                        t.getYear() % 100));
                case '%' -> b.append('%');
                default -> b.append('%').append(d);
            }
        }
        return b.toString();
    }

    // ---- helpers ----

    private static String soft(Object v) {
        return Py.str(v);
    }

    private static Object attribute(Object item, String attr) {
        Object v = item;
        for (String part : attr.split("\\.")) {
            Object key = part.chars().allMatch(Character::isDigit) && !part.isEmpty() ? (Object) Long.parseLong(part)
                    : part;
            v = Py.getitem(v, key);
        }
        return v;
    }

    private static Comparator<Object> sortKey(boolean caseSensitive, String attr) {
        return (a, b) -> {
            Object x = attr == null ? a : attribute(a, attr);
            Object y = attr == null ? b : attribute(b, attr);
            if (!caseSensitive) {
                x = x instanceof String s ? s.toLowerCase(Locale.ROOT) : x;
                y = y instanceof String s ? s.toLowerCase(Locale.ROOT) : y;
            }
            return Py.compare(x, y, "<");
        };
    }

    private static List<Object> rest(List<Object> args, int from) {
        return args.size() > from ? args.subList(from, args.size()) : List.of();
    }

    private static List<Object> selectOrReject(Object value, List<Object> args, Map<String, Object> kwargs,
            boolean attr, boolean select) {
        List<Object> out = new ArrayList<>();
        String attrName = attr ? Py.str(args.get(0)) : null;
        int testAt = attr ? 1 : 0;
        Test t = null;
        if (args.size() > testAt) {
            String name = Py.str(args.get(testAt));
            t = TESTS.get(name);
            if (t == null) {
                throw new PyError("No test named '" + name + "'.");
            }
        }
        List<Object> testArgs = rest(args, testAt + 1);
        for (Object item : Py.iterate(value)) {
            Object v = attr ? attribute(item, attrName) : item;
            boolean ok = t == null ? Py.truthy(v) : t.test(v, testArgs, kwargs);
            if (ok == select) {
                out.add(item);
            }
        }
        return out;
    }

    /** Python's round(v, n): the exact binary value rounded half-to-even. */
    private static Object roundCommon(double v, long precision) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            return v;
        }
        return new BigDecimal(v).setScale((int) precision, RoundingMode.HALF_EVEN).doubleValue();
    }

    private static String htmlEscape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&#34;")
                .replace("'", "&#39;");
    }

    private static final Pattern WORD_BEGIN = Pattern.compile("([-\\s({\\[<]+)");
    private static final Pattern WORD = Pattern.compile("\\w+", Pattern.UNICODE_CHARACTER_CLASS);

    static {
        Filter length = (v, a, k) -> {
            new Args("length", a, k);
            return Py.len(v);
        };
        FILTERS.put("length", length);
        FILTERS.put("count", length);
        FILTERS.put("tojson", (v, a, k) -> {
            Args p = new Args("tojson", a, k, "ensure_ascii", "indent", "separators", "sort_keys");
            return Json.dumps(v, p.bool(0, false), p.get(1, null), p.get(2, null), p.bool(3, false));
        });
        FILTERS.put("trim", (v, a, k) -> Methods.strip(soft(v), new Args("trim", a, k, "chars").str(0, null),
                true, true));
        FILTERS.put("upper", (v, a, k) -> soft(v).toUpperCase(Locale.ROOT));
        FILTERS.put("lower", (v, a, k) -> soft(v).toLowerCase(Locale.ROOT));
        FILTERS.put("capitalize", (v, a, k) -> Methods.capitalize(soft(v)));
        FILTERS.put("title", (v, a, k) -> {
            String s = soft(v);
            StringBuilder b = new StringBuilder();
            Matcher m = WORD_BEGIN.matcher(s);
            int last = 0;
            List<String> parts = new ArrayList<>();
            while (m.find()) {
                parts.add(s.substring(last, m.start()));
                parts.add(m.group());
                last = m.end();
            }
            parts.add(s.substring(last));
            for (String item : parts) {
                if (!item.isEmpty()) {
                    int first = item.codePointAt(0);
                    b.append(new String(Character.toChars(first)).toUpperCase(Locale.ROOT))
                            .append(item.substring(Character.charCount(first)).toLowerCase(Locale.ROOT));
                }
            }
            return b.toString();
        });
        Filter dflt = (v, a, k) -> {
            Args p = new Args("default", a, k, "default_value", "boolean");
            return v instanceof Undefined || (p.bool(1, false) && !Py.truthy(v)) ? p.get(0, "") : v;
        };
        FILTERS.put("default", dflt);
        FILTERS.put("d", dflt);
        FILTERS.put("join", (v, a, k) -> {
            Args p = new Args("join", a, k, "d", "attribute");
            String sep = soft(p.get(0, ""));
            Object attr = p.get(1, null);
            StringBuilder b = new StringBuilder();
            boolean first = true;
            for (Object item : Py.iterate(v)) {
                b.append(first ? "" : sep).append(soft(attr == null ? item : attribute(item, Py.str(attr))));
                first = false;
            }
            return b.toString();
        });
        FILTERS.put("first", (v, a, k) -> {
            List<Object> items = Py.iterate(v);
            return items.isEmpty() ? new Undefined("No first item, sequence was empty.") : items.get(0);
        });
        FILTERS.put("last", (v, a, k) -> {
            List<Object> items = Py.iterate(v);
            return items.isEmpty() ? new Undefined("No last item, sequence was empty.")
                    : items.get(items.size() - 1);
        });
        FILTERS.put("list", (v, a, k) -> Py.iterate(v));
        FILTERS.put("items", (v, a, k) -> {
            if (v instanceof Undefined) {
                return new ArrayList<>();
            }
            if (!(v instanceof Map<?, ?> m)) {
                throw new PyError("Can only get item pairs from a mapping.");
            }
            List<Object> out = new ArrayList<>();
            m.forEach((key, val) -> out.add(PyTuple.of(key, val)));
            return out;
        });
        FILTERS.put("string", (v, a, k) -> soft(v));
        FILTERS.put("safe", (v, a, k) -> v);
        Filter escape = (v, a, k) -> htmlEscape(soft(v));
        FILTERS.put("escape", escape);
        FILTERS.put("e", escape);
        FILTERS.put("forceescape", escape);
        FILTERS.put("int", (v, a, k) -> {
            Args p = new Args("int", a, k, "default", "base");
            Object dv = p.get(0, 0L);
            long base = p.integer(1, 10);
            if (v instanceof String s) {
                String t = s.strip().replace("_", "");
                try {
                    if (base == 10) {
                        return Long.parseLong(t);
                    }
                    if (base == 16 && t.toLowerCase(Locale.ROOT).startsWith("0x")
                            || base == 8 && t.toLowerCase(Locale.ROOT).startsWith("0o")
                            || base == 2 && t.toLowerCase(Locale.ROOT).startsWith("0b")) {
                        t = t.substring(2);
                    }
                    return Long.parseLong(t, (int) base);
                } catch (NumberFormatException e) {
                    try {
                        return (long) Double.parseDouble(t);
                    } catch (NumberFormatException e2) {
                        return dv;
                    }
                }
            }
            if (Py.isNumber(v)) {
                return Py.isIntLike(v) ? Py.toLong(v) : (long) Py.toDouble(v);
            }
            return dv;
        });
        FILTERS.put("float", (v, a, k) -> {
            Object dv = new Args("float", a, k, "default").get(0, 0.0);
            if (v instanceof String s) {
                try {
                    return Double.parseDouble(s.strip());
                } catch (NumberFormatException e) {
                    return dv;
                }
            }
            return Py.isNumber(v) ? Py.toDouble(v) : dv;
        });
        FILTERS.put("abs", (v, a, k) -> {
            if (Py.isIntLike(v)) {
                return Math.abs(Py.toLong(v));
            }
            if (v instanceof Double d) {
                return Math.abs(d);
            }
            throw new PyError("bad operand type for abs(): '" + Py.typeName(v) + "'");
        });
        FILTERS.put("round", (v, a, k) -> {
            Args p = new Args("round", a, k, "precision", "method");
            long precision = p.integer(0, 0);
            String method = p.str(1, "common");
            double d = Py.toDouble(v);
            double f = Math.pow(10, precision);
            return switch (method) {
                case "common" -> roundCommon(d, precision);
                case "ceil" -> Math.ceil(d * f) / f;
                case "floor" -> Math.floor(d * f) / f;
                default -> throw new PyError("method must be common, ceil or floor");
            };
        });
        FILTERS.put("replace", (v, a, k) -> {
            Args p = new Args("replace", a, k, "old", "new", "count");
            Object count = p.get(2, null);
            return Methods.replace(soft(v), soft(p.required(0)), soft(p.required(1)),
                    count == null ? -1 : Py.toLong(count));
        });
        FILTERS.put("reverse", (v, a, k) -> {
            if (v instanceof String s) {
                return new StringBuilder(s).reverse().toString();
            }
            List<Object> items = Py.iterate(v);
            Collections.reverse(items);
            return items;
        });
        FILTERS.put("sort", (v, a, k) -> {
            Args p = new Args("sort", a, k, "reverse", "case_sensitive", "attribute");
            List<Object> items = Py.iterate(v);
            Object attr = p.get(2, null);
            Comparator<Object> c = sortKey(p.bool(1, false), attr == null ? null : Py.str(attr));
            items.sort(p.bool(0, false) ? c.reversed() : c);
            return items;
        });
        FILTERS.put("unique", (v, a, k) -> {
            Args p = new Args("unique", a, k, "case_sensitive", "attribute");
            boolean cs = p.bool(0, false);
            Object attr = p.get(1, null);
            List<Object> out = new ArrayList<>();
            List<Object> seen = new ArrayList<>();
            for (Object item : Py.iterate(v)) {
                Object key = attr == null ? item : attribute(item, Py.str(attr));
                if (!cs && key instanceof String s) {
                    key = s.toLowerCase(Locale.ROOT);
                }
                if (!Py.contains(seen, key)) {
                    seen.add(key);
                    out.add(item);
                }
            }
            return out;
        });
        for (String mm : List.of("min", "max")) {
            FILTERS.put(mm, (v, a, k) -> {
                Args p = new Args(mm, a, k, "case_sensitive", "attribute");
                Object attr = p.get(1, null);
                List<Object> items = Py.iterate(v);
                if (items.isEmpty()) {
                    return new Undefined("No aggregated item, sequence was empty.");
                }
                Comparator<Object> c = sortKey(p.bool(0, false), attr == null ? null : Py.str(attr));
                return mm.equals("min") ? Collections.min(items, c) : Collections.max(items, c);
            });
        }
        FILTERS.put("sum", (v, a, k) -> {
            Args p = new Args("sum", a, k, "attribute", "start");
            Object attr = p.get(0, null);
            Object total = p.get(1, 0L);
            for (Object item : Py.iterate(v)) {
                total = Py.binary("+", total, attr == null ? item : attribute(item, Py.str(attr)));
            }
            return total;
        });
        FILTERS.put("map", (v, a, k) -> {
            List<Object> out = new ArrayList<>();
            if (k.containsKey("attribute")) {
                String attr = Py.str(k.get("attribute"));
                Object dv = k.get("default");
                for (Object item : Py.iterate(v)) {
                    Object x = attribute(item, attr);
                    out.add(x instanceof Undefined && k.containsKey("default") ? dv : x);
                }
                return out;
            }
            if (a.isEmpty()) {
                throw new PyError("map requires a filter argument");
            }
            String name = Py.str(a.get(0));
            Filter f = FILTERS.get(name);
            if (f == null) {
                throw new PyError("No filter named '" + name + "'.");
            }
            for (Object item : Py.iterate(v)) {
                out.add(f.apply(item, rest(a, 1), k));
            }
            return out;
        });
        FILTERS.put("select", (v, a, k) -> selectOrReject(v, a, k, false, true));
        FILTERS.put("reject", (v, a, k) -> selectOrReject(v, a, k, false, false));
        FILTERS.put("selectattr", (v, a, k) -> selectOrReject(v, a, k, true, true));
        FILTERS.put("rejectattr", (v, a, k) -> selectOrReject(v, a, k, true, false));
        FILTERS.put("attr", (v, a, k) -> Py.getattr(v, new Args("attr", a, k, "name").str(0, null)));
        FILTERS.put("indent", (v, a, k) -> {
            Args p = new Args("indent", a, k, "width", "first", "blank");
            Object w = p.get(0, 4L);
            String ind = w instanceof String s ? s : " ".repeat((int) Py.toLong(w));
            String s = soft(v) + "\n";
            List<Object> lines = Methods.split(s, "\n", -1);
            lines.remove(lines.size() - 1);
            String rv;
            if (p.bool(2, false)) {
                StringBuilder b = new StringBuilder();
                for (int i = 0; i < lines.size(); i++) {
                    b.append(i > 0 ? "\n" + ind : "").append(lines.get(i));
                }
                rv = b.toString();
            } else {
                StringBuilder b = new StringBuilder(lines.isEmpty() ? "" : (String) lines.get(0));
                if (lines.size() > 1) {
                    b.append('\n');
                    for (int i = 1; i < lines.size(); i++) {
                        String line = (String) lines.get(i);
                        b.append(i > 1 ? "\n" : "").append(line.isEmpty() ? line : ind + line);
                    }
                }
                rv = b.toString();
            }
            return p.bool(1, false) ? ind + rv : rv;
        });
        FILTERS.put("wordcount", (v, a, k) -> {
            Matcher m = WORD.matcher(soft(v));
            long n = 0;
            while (m.find()) {
                n++;
            }
            return n;
        });
        FILTERS.put("center", (v, a, k) -> {
            long w = new Args("center", a, k, "width").integer(0, 80);
            return Methods.bind(soft(v), "center").call(List.of(w), Map.of());
        });
        FILTERS.put("format", (v, a, k) -> {
            if (!a.isEmpty() && !k.isEmpty()) {
                throw new PyError("can't handle positional and keyword arguments at the same time");
            }
            return Py.percentFormat(soft(v), new PyTuple(a));
        });
        FILTERS.put("dictsort", (v, a, k) -> {
            Args p = new Args("dictsort", a, k, "case_sensitive", "by", "reverse");
            if (!(v instanceof Map<?, ?> m)) {
                throw new PyError("You can only sort by either \"key\" or \"value\"");
            }
            int pos = switch (p.str(1, "key")) {
                case "key" -> 0;
                case "value" -> 1;
                default -> throw new PyError("You can only sort by either \"key\" or \"value\"");
            };
            List<Object> items = new ArrayList<>();
            m.forEach((key, val) -> items.add(PyTuple.of(key, val)));
            Comparator<Object> base = sortKey(p.bool(0, false), null);
            Comparator<Object> c = (x, y) -> base.compare(((PyTuple) x).get(pos), ((PyTuple) y).get(pos));
            items.sort(p.bool(2, false) ? c.reversed() : c);
            return items;
        });

        TESTS.put("defined", (v, a, k) -> !(v instanceof Undefined));
        TESTS.put("undefined", (v, a, k) -> v instanceof Undefined);
        TESTS.put("none", (v, a, k) -> v == null);
        TESTS.put("boolean", (v, a, k) -> v instanceof Boolean);
        TESTS.put("true", (v, a, k) -> Boolean.TRUE.equals(v));
        TESTS.put("false", (v, a, k) -> Boolean.FALSE.equals(v));
        TESTS.put("integer", (v, a, k) -> Py.isInt(v));
        TESTS.put("float", (v, a, k) -> v instanceof Double || v instanceof Float);
        TESTS.put("number", (v, a, k) -> Py.isNumber(v));
        TESTS.put("string", (v, a, k) -> v instanceof String);
        TESTS.put("mapping", (v, a, k) -> v instanceof Map);
        TESTS.put("sequence", (v, a, k) -> v instanceof String || v instanceof List || v instanceof Map);
        TESTS.put("iterable", (v, a, k) -> v instanceof String || v instanceof List || v instanceof Map
                || v instanceof Undefined);
        TESTS.put("callable", (v, a, k) -> v instanceof PyCallable);
        TESTS.put("odd", (v, a, k) -> Py.toLong(v) % 2 != 0);
        TESTS.put("even", (v, a, k) -> Py.toLong(v) % 2 == 0);
        TESTS.put("divisibleby", (v, a, k) -> {
            long n = new Args("divisibleby", a, k, "num").integer(0, 1);
            return Py.toLong(v) % n == 0;
        });
        Test eq = (v, a, k) -> Py.eq(v, new Args("eq", a, k, "other").required(0));
        TESTS.put("eq", eq);
        TESTS.put("equalto", eq);
        TESTS.put("==", eq);
        Test ne = (v, a, k) -> !Py.eq(v, new Args("ne", a, k, "other").required(0));
        TESTS.put("ne", ne);
        TESTS.put("!=", ne);
        for (String[] op : new String[][] {{"lt", "<"}, {"lessthan", "<"}, {"<", "<"}, {"le", "<="}, {"<=", "<="},
            {"gt", ">"}, {"greaterthan", ">"}, {">", ">"}, {"ge", ">="}, {">=", ">="}}) {
            TESTS.put(op[0], (v, a, k) -> {
                int c = Py.compare(v, new Args(op[0], a, k, "other").required(0), op[1]);
                return switch (op[1]) {
                    case "<" -> c < 0;
                    case "<=" -> c <= 0;
                    case ">" -> c > 0;
                    default -> c >= 0;
                };
            });
        }
        TESTS.put("in", (v, a, k) -> Py.contains(new Args("in", a, k, "seq").required(0), v));
        TESTS.put("lower", (v, a, k) -> {
            String s = soft(v);
            return s.codePoints().anyMatch(Character::isLowerCase) && s.codePoints().noneMatch(Character::isUpperCase);
        });
        TESTS.put("upper", (v, a, k) -> {
            String s = soft(v);
            return s.codePoints().anyMatch(Character::isUpperCase) && s.codePoints().noneMatch(Character::isLowerCase);
        });
        TESTS.put("sameas", (v, a, k) -> {
            Object o = new Args("sameas", a, k, "other").required(0);
            return v == o || (v instanceof Boolean || v == null) && java.util.Objects.equals(v, o);
        });
        TESTS.put("escaped", (v, a, k) -> false);
    }
}
