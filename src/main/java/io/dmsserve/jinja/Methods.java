package io.dmsserve.jinja;

import io.dmsserve.jinja.Values.NamedCallable;
import io.dmsserve.jinja.Values.PyCallable;
import io.dmsserve.jinja.Values.PyError;
import io.dmsserve.jinja.Values.PyTuple;
import io.dmsserve.jinja.Values.Undefined;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** Python methods of str, list and dict that templates call ({@code content.startswith('x')}). */
final class Methods {

    private Methods() {
    }

    private static final Set<String> UNSAFE_LIST = Set.of("append", "extend", "insert", "pop", "remove", "reverse",
            "sort", "clear");
    private static final Set<String> UNSAFE_DICT = Set.of("update", "pop", "popitem", "setdefault", "clear");

    /** A bound method, or null when obj has no such method. */
    static PyCallable bind(Object obj, String name) {
        if (obj instanceof String s) {
            return strMethod(s, name);
        }
        if (obj instanceof List<?> l) {
            if (UNSAFE_LIST.contains(name) && !(obj instanceof PyTuple)) {
                return unsafe(name, "list");
            }
            return listMethod(l, name);
        }
        if (obj instanceof Map<?, ?> m) {
            if (UNSAFE_DICT.contains(name)) {
                return unsafe(name, "dict");
            }
            return dictMethod(m, name);
        }
        return null;
    }

    private static PyCallable unsafe(String name, String type) {
        return new NamedCallable(name, (a, k) -> {
            throw new PyError("access to attribute '" + name + "' of '" + type + "' object is unsafe.");
        });
    }

    private static PyCallable m(String name, PyCallable fn) {
        return new NamedCallable(name, fn);
    }

    // ---- dict ----

    private static PyCallable dictMethod(Map<?, ?> d, String name) {
        return switch (name) {
            case "get" -> m(name, (a, k) -> {
                Args p = new Args("get", a, k, "key", "default");
                Object key = Py.findKey(d, p.required(0));
                return key == Py.MISSING ? p.get(1, null) : d.get(key);
            });
            case "items" -> m(name, (a, k) -> {
                new Args("items", a, k);
                List<Object> out = new ArrayList<>(d.size());
                d.forEach((key, v) -> out.add(PyTuple.of(key, v)));
                return out;
            });
            case "keys" -> m(name, (a, k) -> {
                new Args("keys", a, k);
                return new ArrayList<Object>(d.keySet());
            });
            case "values" -> m(name, (a, k) -> {
                new Args("values", a, k);
                return new ArrayList<Object>(d.values());
            });
            case "copy" -> m(name, (a, k) -> new java.util.LinkedHashMap<Object, Object>(d));
            default -> null;
        };
    }

    // ---- list / tuple ----

    private static PyCallable listMethod(List<?> l, String name) {
        return switch (name) {
            case "index" -> m(name, (a, k) -> {
                Object x = new Args("index", a, k, "value").required(0);
                for (int i = 0; i < l.size(); i++) {
                    if (Py.eq(l.get(i), x)) {
                        return (long) i;
                    }
                }
                throw new PyError(Py.repr(x) + " is not in list");
            });
            case "count" -> m(name, (a, k) -> {
                Object x = new Args("count", a, k, "value").required(0);
                return l.stream().filter(o -> Py.eq(o, x)).count();
            });
            case "copy" -> m(name, (a, k) -> new ArrayList<Object>(l));
            default -> null;
        };
    }

    // ---- str ----

    private static PyCallable strMethod(String s, String name) {
        return switch (name) {
            case "startswith", "endswith" -> m(name, (a, k) -> {
                Args p = new Args(name, a, k, "prefix", "start", "end");
                String sub = window(s, p);
                Object pre = p.required(0);
                List<?> options = pre instanceof PyTuple t ? t : List.of(pre);
                for (Object o : options) {
                    if (!(o instanceof String ps)) {
                        throw new PyError(name + " first arg must be str or a tuple of str, not " + Py.typeName(o));
                    }
                    if (name.equals("startswith") ? sub.startsWith(ps) : sub.endsWith(ps)) {
                        return true;
                    }
                }
                return false;
            });
            case "split", "rsplit" -> m(name, (a, k) -> {
                Args p = new Args(name, a, k, "sep", "maxsplit");
                String sep = p.str(0, null);
                long max = p.integer(1, -1);
                return name.equals("split") ? split(s, sep, max) : rsplit(s, sep, max);
            });
            case "splitlines" -> m(name, (a, k) -> splitlines(s, new Args(name, a, k, "keepends").bool(0, false)));
            case "strip", "lstrip", "rstrip" -> m(name, (a, k) -> {
                String chars = new Args(name, a, k, "chars").str(0, null);
                return strip(s, chars, !name.equals("rstrip"), !name.equals("lstrip"));
            });
            case "upper" -> m(name, (a, k) -> s.toUpperCase(Locale.ROOT));
            case "lower" -> m(name, (a, k) -> s.toLowerCase(Locale.ROOT));
            case "title" -> m(name, (a, k) -> title(s));
            case "capitalize" -> m(name, (a, k) -> capitalize(s));
            case "swapcase" -> m(name, (a, k) -> {
                StringBuilder b = new StringBuilder();
                s.codePoints().forEach(c -> b.appendCodePoint(Character.isUpperCase(c) ? Character.toLowerCase(c)
                        : Character.isLowerCase(c) ? Character.toUpperCase(c) : c));
                return b.toString();
            });
            case "replace" -> m(name, (a, k) -> {
                Args p = new Args(name, a, k, "old", "new", "count");
                return replace(s, p.str(0, null), p.str(1, null), p.integer(2, -1));
            });
            case "find", "index", "rfind", "rindex" -> m(name, (a, k) -> {
                Args p = new Args(name, a, k, "sub", "start", "end");
                String sub = (String) p.str(0, null);
                int startCp = (int) normIndex(p.get(1, null), cpLen(s), 0);
                String w = window(s, p);
                int at = name.startsWith("r") ? w.lastIndexOf(sub) : w.indexOf(sub);
                if (at < 0) {
                    if (name.endsWith("index")) {
                        throw new PyError("substring not found");
                    }
                    return -1L;
                }
                return (long) (startCp + w.codePointCount(0, at));
            });
            case "count" -> m(name, (a, k) -> {
                String sub = new Args(name, a, k, "sub").str(0, null);
                if (sub.isEmpty()) {
                    return (long) cpLen(s) + 1;
                }
                long c = 0;
                for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length())) {
                    c++;
                }
                return c;
            });
            case "join" -> m(name, (a, k) -> {
                Object it = new Args(name, a, k, "iterable").required(0);
                StringBuilder b = new StringBuilder();
                List<Object> items = Py.iterate(it);
                for (int i = 0; i < items.size(); i++) {
                    if (!(items.get(i) instanceof String part)) {
                        throw new PyError("sequence item " + i + ": expected str instance, "
                                + Py.typeName(items.get(i)) + " found");
                    }
                    b.append(i > 0 ? s : "").append(part);
                }
                return b.toString();
            });
            case "isdigit", "isdecimal", "isnumeric" -> m(name, (a, k) -> !s.isEmpty()
                    && s.codePoints().allMatch(Character::isDigit));
            case "isalpha" -> m(name, (a, k) -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetter));
            case "isalnum" -> m(name, (a, k) -> !s.isEmpty()
                    && s.codePoints().allMatch(Character::isLetterOrDigit));
            case "isspace" -> m(name, (a, k) -> !s.isEmpty() && s.codePoints().allMatch(Py::isSpace));
            case "isupper" -> m(name, (a, k) -> s.codePoints().anyMatch(Character::isUpperCase)
                    && s.codePoints().noneMatch(Character::isLowerCase));
            case "islower" -> m(name, (a, k) -> s.codePoints().anyMatch(Character::isLowerCase)
                    && s.codePoints().noneMatch(Character::isUpperCase));
            case "zfill" -> m(name, (a, k) -> {
                long w = new Args(name, a, k, "width").integer(0, 0);
                int n = cpLen(s);
                if (w <= n) {
                    return s;
                }
                boolean sign = !s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+');
                String pad = "0".repeat((int) (w - n));
                return sign ? s.charAt(0) + pad + s.substring(1) : pad + s;
            });
            case "center", "ljust", "rjust" -> m(name, (a, k) -> {
                Args p = new Args(name, a, k, "width", "fillchar");
                long w = p.integer(0, 0);
                String fill = p.str(1, " ");
                int n = cpLen(s);
                if (w <= n) {
                    return s;
                }
                int total = (int) (w - n);
                int left = name.equals("ljust") ? 0 : name.equals("rjust") ? total
                        : total / 2 + (total & (int) w & 1);
                return fill.repeat(left) + s + fill.repeat(total - left);
            });
            case "partition", "rpartition" -> m(name, (a, k) -> {
                String sep = new Args(name, a, k, "sep").str(0, null);
                if (sep.isEmpty()) {
                    throw new PyError("empty separator");
                }
                int at = name.equals("partition") ? s.indexOf(sep) : s.lastIndexOf(sep);
                if (at < 0) {
                    return name.equals("partition") ? PyTuple.of(s, "", "") : PyTuple.of("", "", s);
                }
                return PyTuple.of(s.substring(0, at), sep, s.substring(at + sep.length()));
            });
            case "removeprefix" -> m(name, (a, k) -> {
                String pre = new Args(name, a, k, "prefix").str(0, null);
                return s.startsWith(pre) ? s.substring(pre.length()) : s;
            });
            case "removesuffix" -> m(name, (a, k) -> {
                String suf = new Args(name, a, k, "suffix").str(0, null);
                return s.endsWith(suf) && !suf.isEmpty() ? s.substring(0, s.length() - suf.length()) : s;
            });
            case "format" -> m(name, (a, k) -> format(s, a, k));
            default -> null;
        };
    }

    static int cpLen(String s) {
        return s.codePointCount(0, s.length());
    }

    private static long normIndex(Object o, int n, long dflt) {
        if (o == null) {
            return dflt;
        }
        if (!Py.isIntLike(o)) {
            throw new PyError("slice indices must be integers or None");
        }
        long i = Py.toLong(o);
        if (i < 0) {
            i += n;
        }
        return Math.max(0, Math.min(n, i));
    }

    /** s[start:end] for methods taking optional start/end (args 1 and 2). */
    private static String window(String s, Args p) {
        if (!p.has(1) && !p.has(2)) {
            return s;
        }
        int n = cpLen(s);
        long start = normIndex(p.get(1, null), n, 0);
        long end = normIndex(p.get(2, null), n, n);
        if (end <= start) {
            return "";
        }
        return s.substring(s.offsetByCodePoints(0, (int) start), s.offsetByCodePoints(0, (int) end));
    }

    static String strip(String s, String chars, boolean left, boolean right) {
        int b = 0;
        int e = s.length();
        if (chars == null) {
            while (left && b < e && Py.isSpace(s.codePointAt(b))) {
                b += Character.charCount(s.codePointAt(b));
            }
            while (right && e > b && Py.isSpace(s.codePointBefore(e))) {
                e -= Character.charCount(s.codePointBefore(e));
            }
        } else {
            while (left && b < e && chars.indexOf(s.codePointAt(b)) >= 0) {
                b += Character.charCount(s.codePointAt(b));
            }
            while (right && e > b && chars.indexOf(s.codePointBefore(e)) >= 0) {
                e -= Character.charCount(s.codePointBefore(e));
            }
        }
        return s.substring(b, e);
    }

    static List<Object> split(String s, String sep, long max) {
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            int i = 0;
            int n = s.length();
            while (true) {
                while (i < n && Py.isSpace(s.charAt(i))) {
                    i++;
                }
                if (i >= n) {
                    break;
                }
                if (max >= 0 && out.size() >= max) {
                    out.add(s.substring(i));
                    break;
                }
                int j = i;
                while (j < n && !Py.isSpace(s.charAt(j))) {
                    j++;
                }
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        if (sep.isEmpty()) {
            throw new PyError("empty separator");
        }
        int from = 0;
        while (max < 0 || out.size() < max) {
            int at = s.indexOf(sep, from);
            if (at < 0) {
                break;
            }
            out.add(s.substring(from, at));
            from = at + sep.length();
        }
        out.add(s.substring(from));
        return out;
    }

    static List<Object> rsplit(String s, String sep, long max) {
        if (max < 0) {
            return split(s, sep, max);
        }
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            int j = s.length();
            while (true) {
                while (j > 0 && Py.isSpace(s.charAt(j - 1))) {
                    j--;
                }
                if (j <= 0) {
                    break;
                }
                if (out.size() >= max) {
                    out.add(0, s.substring(0, j));
                    break;
                }
                int i = j;
                while (i > 0 && !Py.isSpace(s.charAt(i - 1))) {
                    i--;
                }
                out.add(0, s.substring(i, j));
                j = i;
            }
            return out;
        }
        if (sep.isEmpty()) {
            throw new PyError("empty separator");
        }
        int end = s.length();
        while (out.size() < max) {
            int at = s.lastIndexOf(sep, end - sep.length());
            if (at < 0) {
                break;
            }
            out.add(0, s.substring(at + sep.length(), end));
            end = at;
        }
        out.add(0, s.substring(0, end));
        return out;
    }

    private static List<Object> splitlines(String s, boolean keepends) {
        List<Object> out = new ArrayList<>();
        int start = 0;
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            int eol;
            if (c == '\r' && i + 1 < s.length() && s.charAt(i + 1) == '\n') {
                eol = 2;
            } else if ("\n\r\u000b\u000c\u001c\u001d\u001e\u0085\u2028\u2029".indexOf(c) >= 0) {
                eol = 1;
            } else {
                i++;
                continue;
            }
            out.add(s.substring(start, keepends ? i + eol : i));
            i += eol;
            start = i;
        }
        if (start < s.length()) {
            out.add(s.substring(start));
        }
        return out;
    }

    static String replace(String s, String old, String repl, long count) {
        if (count < 0) {
            if (old.isEmpty()) {
                StringBuilder b = new StringBuilder(repl);
                s.codePoints().forEach(cp -> b.appendCodePoint(cp).append(repl));
                return b.toString();
            }
            return s.replace(old, repl);
        }
        StringBuilder b = new StringBuilder();
        int from = 0;
        long done = 0;
        if (old.isEmpty()) {
            int i = 0;
            while (i <= s.length()) {
                if (done < count) {
                    b.append(repl);
                    done++;
                }
                if (i == s.length()) {
                    break;
                }
                int cp = s.codePointAt(i);
                b.appendCodePoint(cp);
                i += Character.charCount(cp);
            }
            return b.toString();
        }
        while (done < count) {
            int at = s.indexOf(old, from);
            if (at < 0) {
                break;
            }
            b.append(s, from, at).append(repl);
            from = at + old.length();
            done++;
        }
        return b.append(s.substring(from)).toString();
    }

    static String title(String s) {
        StringBuilder b = new StringBuilder();
        boolean prevCased = false;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            boolean cased = Character.isUpperCase(cp) || Character.isLowerCase(cp) || Character.isTitleCase(cp);
            b.appendCodePoint(cased ? (prevCased ? Character.toLowerCase(cp) : Character.toTitleCase(cp)) : cp);
            prevCased = cased;
        }
        return b.toString();
    }

    static String capitalize(String s) {
        if (s.isEmpty()) {
            return s;
        }
        int first = s.codePointAt(0);
        return new String(Character.toChars(Character.toTitleCase(first)))
                + s.substring(Character.charCount(first)).toLowerCase(Locale.ROOT);
    }

    /** str.format with {}, {0}, {name}, {name.attr}/{name[key]} fields; format specs are not supported. */
    private static String format(String s, List<Object> args, Map<String, Object> kwargs) {
        StringBuilder b = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '{' && i + 1 < s.length() && s.charAt(i + 1) == '{') {
                b.append('{');
                i++;
            } else if (c == '}' && i + 1 < s.length() && s.charAt(i + 1) == '}') {
                b.append('}');
                i++;
            } else if (c == '{') {
                int close = s.indexOf('}', i);
                if (close < 0) {
                    throw new PyError("Single '{' encountered in format string");
                }
                String field = s.substring(i + 1, close);
                if (field.contains(":") || field.contains("!")) {
                    throw new PyError("format specs in str.format are not supported");
                }
                Object v;
                if (field.isEmpty()) {
                    if (auto >= args.size()) {
                        throw new PyError("Replacement index " + auto + " out of range for positional args tuple");
                    }
                    v = args.get(auto++);
                } else if (Character.isDigit(field.charAt(0))) {
                    int idx = Integer.parseInt(field);
                    if (idx >= args.size()) {
                        throw new PyError("Replacement index " + idx + " out of range for positional args tuple");
                    }
                    v = args.get(idx);
                } else {
                    if (!kwargs.containsKey(field)) {
                        throw new PyError("KeyError: '" + field + "'");
                    }
                    v = kwargs.get(field);
                }
                if (v instanceof Undefined u) {
                    throw u.fail();
                }
                b.append(Py.str(v));
                i = close;
            } else if (c == '}') {
                throw new PyError("Single '}' encountered in format string");
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
