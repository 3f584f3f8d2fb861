package io.dmsserve.jinja;

import io.dmsserve.jinja.Node.And;
import io.dmsserve.jinja.Node.Binary;
import io.dmsserve.jinja.Node.Block;
import io.dmsserve.jinja.Node.Branch;
import io.dmsserve.jinja.Node.Break;
import io.dmsserve.jinja.Node.Call;
import io.dmsserve.jinja.Node.Compare;
import io.dmsserve.jinja.Node.CondExpr;
import io.dmsserve.jinja.Node.Const;
import io.dmsserve.jinja.Node.Continue;
import io.dmsserve.jinja.Node.DictLit;
import io.dmsserve.jinja.Node.Expr;
import io.dmsserve.jinja.Node.FilterBlock;
import io.dmsserve.jinja.Node.FilterExpr;
import io.dmsserve.jinja.Node.For;
import io.dmsserve.jinja.Node.GetAttr;
import io.dmsserve.jinja.Node.GetItem;
import io.dmsserve.jinja.Node.If;
import io.dmsserve.jinja.Node.Kwarg;
import io.dmsserve.jinja.Node.ListLit;
import io.dmsserve.jinja.Node.MacroDef;
import io.dmsserve.jinja.Node.Name;
import io.dmsserve.jinja.Node.Or;
import io.dmsserve.jinja.Node.Print;
import io.dmsserve.jinja.Node.Set;
import io.dmsserve.jinja.Node.SetBlock;
import io.dmsserve.jinja.Node.SliceExpr;
import io.dmsserve.jinja.Node.Stmt;
import io.dmsserve.jinja.Node.Target;
import io.dmsserve.jinja.Node.TestExpr;
import io.dmsserve.jinja.Node.Text;
import io.dmsserve.jinja.Node.TupleLit;
import io.dmsserve.jinja.Node.Unary;
import io.dmsserve.jinja.Values.Loop;
import io.dmsserve.jinja.Values.NamedCallable;
import io.dmsserve.jinja.Values.Namespace;
import io.dmsserve.jinja.Values.PyCallable;
import io.dmsserve.jinja.Values.PyError;
import io.dmsserve.jinja.Values.PyTuple;
import io.dmsserve.jinja.Values.RaisedError;
import io.dmsserve.jinja.Values.Undefined;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Tree-walking evaluator with jinja2's scoping: for bodies and macros get a fresh scope, if does not. */
final class Interpreter {

    /** Variables of one frame; lookups walk to the parent. */
    static final class Scope {
        final Scope parent;
        final Map<String, Object> vars = new HashMap<>();

        Scope(Scope parent) {
            this.parent = parent;
        }

        Object lookup(String name) {
            for (Scope s = this; s != null; s = s.parent) {
                if (s.vars.containsKey(name)) {
                    return s.vars.get(name);
                }
            }
            return Py.MISSING;
        }
    }

    private static final class BreakSignal extends RuntimeException {
        static final BreakSignal INSTANCE = new BreakSignal();

        BreakSignal() {
            super(null, null, false, false);
        }
    }

    private static final class ContinueSignal extends RuntimeException {
        static final ContinueSignal INSTANCE = new ContinueSignal();

        ContinueSignal() {
            super(null, null, false, false);
        }
    }

    private int depth;

    Interpreter() {
    }

    // ---- statements ----

    void render(List<Stmt> body, Scope scope, StringBuilder out) {
        for (Stmt s : body) {
            exec(s, scope, out);
        }
    }

    private void exec(Stmt stmt, Scope scope, StringBuilder out) {
        // Only the template's own errors become TemplateException (a client's 400); anything else is a bug in
        // this interpreter and must surface as one, not be dressed up as a bad request.
        try {
            execUnchecked(stmt, scope, out);
        } catch (PyError e) {
            throw new TemplateException(e.getMessage(), stmt.line());
        } catch (RaisedError e) {
            throw new TemplateException(e.getMessage(), stmt.line(), true, null);
        }
    }

    private void execUnchecked(Stmt stmt, Scope scope, StringBuilder out) {
        if (stmt instanceof Text t) {
            out.append(t.text());
        } else if (stmt instanceof Print p) {
            out.append(Py.str(eval(p.expr(), scope)));
        } else if (stmt instanceof If f) {
            for (Branch b : f.branches()) {
                if (Py.truthy(eval(b.test(), scope))) {
                    render(b.body(), scope, out);
                    return;
                }
            }
            render(f.otherwise(), scope, out);
        } else if (stmt instanceof For f) {
            execFor(f, scope, out);
        } else if (stmt instanceof Set s) {
            assign(s.target(), eval(s.value(), scope), scope, s.line());
        } else if (stmt instanceof SetBlock s) {
            StringBuilder captured = new StringBuilder();
            render(s.body(), scope, captured);
            assign(s.target(), captured.toString(), scope, s.line());
        } else if (stmt instanceof MacroDef m) {
            scope.vars.put(m.name(), macro(m, scope));
        } else if (stmt instanceof Break) {
            throw BreakSignal.INSTANCE;
        } else if (stmt instanceof Continue) {
            throw ContinueSignal.INSTANCE;
        } else if (stmt instanceof FilterBlock fb) {
            StringBuilder captured = new StringBuilder();
            render(fb.body(), scope, captured);
            out.append(Py.str(applyFilter(fb.name(), captured.toString(), fb.args(), fb.kwargs(), scope)));
        } else if (stmt instanceof Block b) {
            render(b.body(), scope, out);
        } else {
            throw new IllegalStateException("unknown statement " + stmt);
        }
    }

    private void execFor(For f, Scope scope, StringBuilder out) {
        Object iterable = eval(f.iter(), scope);
        List<Object> items = Py.iterate(iterable);
        if (f.filter() != null) {
            List<Object> kept = new ArrayList<>();
            for (Object item : items) {
                Scope s = new Scope(scope);
                bindTargets(f.targets(), item, s);
                if (Py.truthy(eval(f.filter(), s))) {
                    kept.add(item);
                }
            }
            items = kept;
        }
        if (items.isEmpty()) {
            render(f.otherwise(), scope, out);
            return;
        }
        Loop loop = new Loop(items);
        for (int i = 0; i < items.size(); i++) {
            Scope s = new Scope(scope);
            bindTargets(f.targets(), items.get(i), s);
            loop.index0 = i;
            s.vars.put("loop", loop);
            try {
                render(f.body(), s, out);
            } catch (BreakSignal b) {
                break;
            } catch (ContinueSignal c) {
                // next item
            }
        }
    }

    private static void bindTargets(List<String> targets, Object item, Scope s) {
        if (targets.size() == 1) {
            s.vars.put(targets.get(0), item);
            return;
        }
        List<Object> parts = Py.iterate(item);
        if (parts.size() != targets.size()) {
            throw new PyError(parts.size() < targets.size()
                    ? "not enough values to unpack (expected " + targets.size() + ", got " + parts.size() + ")"
                    : "too many values to unpack (expected " + targets.size() + ")");
        }
        for (int i = 0; i < targets.size(); i++) {
            s.vars.put(targets.get(i), parts.get(i));
        }
    }

    private static void assign(Target t, Object value, Scope scope, int line) {
        if (t.attr() != null) {
            Object ns = scope.lookup(t.names().get(0));
            if (!(ns instanceof Namespace n)) {
                throw new PyError("cannot assign attribute on non-namespace object");
            }
            n.attrs.put(t.attr(), value);
            return;
        }
        bindTargets(t.names(), value, scope);
    }

    private PyCallable macro(MacroDef m, Scope closure) {
        return new NamedCallable(m.name(), (args, kwargs) -> {
            if (args.size() > m.params().size()) {
                throw new PyError("macro '" + m.name() + "' takes not more than " + m.params().size()
                        + " argument(s)");
            }
            Scope s = new Scope(closure);
            Map<String, Object> remaining = new LinkedHashMap<>(kwargs);
            for (int i = 0; i < m.params().size(); i++) {
                String p = m.params().get(i);
                if (i < args.size()) {
                    if (remaining.containsKey(p)) {
                        throw new PyError("macro '" + m.name() + "' got multiple values for argument '" + p + "'");
                    }
                    s.vars.put(p, args.get(i));
                } else if (remaining.containsKey(p)) {
                    s.vars.put(p, remaining.remove(p));
                } else if (m.defaults().get(i) != null) {
                    s.vars.put(p, eval(m.defaults().get(i), s));
                } else {
                    s.vars.put(p, new Undefined("parameter '" + p + "' was not provided"));
                }
            }
            if (!remaining.isEmpty()) {
                throw new PyError("macro '" + m.name() + "' takes no keyword argument '"
                        + remaining.keySet().iterator().next() + "'");
            }
            try {
                if (++depth > 100) {
                    throw new PyError("maximum macro recursion depth exceeded");
                }
                StringBuilder out = new StringBuilder();
                render(m.body(), s, out);
                return out.toString();
            } finally {
                depth--;
            }
        });
    }

    // ---- expressions ----

    Object eval(Expr e, Scope scope) {
        try {
            return evalUnchecked(e, scope);
        } catch (PyError ex) {
            throw new TemplateException(ex.getMessage(), e.line());
        }
    }

    private Object evalUnchecked(Expr e, Scope scope) {
        if (e instanceof Const c) {
            return c.value();
        } else if (e instanceof Name n) {
            Object v = scope.lookup(n.name());
            return v == Py.MISSING ? new Undefined("'" + n.name() + "' is undefined") : v;
        } else if (e instanceof GetAttr g) {
            return Py.getattr(eval(g.target(), scope), g.attr());
        } else if (e instanceof GetItem g) {
            Object target = eval(g.target(), scope);
            Object key = g.key() instanceof SliceExpr s
                    ? new Py.Slice(opt(s.start(), scope), opt(s.stop(), scope), opt(s.step(), scope))
                    : eval(g.key(), scope);
            return Py.getitem(target, key);
        } else if (e instanceof ListLit l) {
            List<Object> out = new ArrayList<>(l.items().size());
            for (Expr item : l.items()) {
                out.add(eval(item, scope));
            }
            return out;
        } else if (e instanceof TupleLit t) {
            List<Object> out = new ArrayList<>(t.items().size());
            for (Expr item : t.items()) {
                out.add(eval(item, scope));
            }
            return new PyTuple(out);
        } else if (e instanceof DictLit d) {
            Map<Object, Object> out = new LinkedHashMap<>();
            for (int i = 0; i < d.keys().size(); i++) {
                Object k = eval(d.keys().get(i), scope);
                Object existing = Py.findKey(out, k);
                out.put(existing == Py.MISSING ? k : existing, eval(d.values().get(i), scope));
            }
            return out;
        } else if (e instanceof Unary u) {
            Object v = eval(u.operand(), scope);
            return switch (u.op()) {
                case "not" -> !Py.truthy(v);
                case "-" -> Py.negate(v);
                default -> Py.plus(v);
            };
        } else if (e instanceof Binary b) {
            return Py.binary(b.op(), eval(b.left(), scope), eval(b.right(), scope));
        } else if (e instanceof And a) {
            Object l = eval(a.left(), scope);
            return Py.truthy(l) ? eval(a.right(), scope) : l;
        } else if (e instanceof Or o) {
            Object l = eval(o.left(), scope);
            return Py.truthy(l) ? l : eval(o.right(), scope);
        } else if (e instanceof Compare c) {
            return compare(c, scope);
        } else if (e instanceof CondExpr c) {
            if (Py.truthy(eval(c.test(), scope))) {
                return eval(c.then(), scope);
            }
            return c.otherwise() == null ? new Undefined("the inline if-expression evaluated to false and no else"
                    + " section was defined") : eval(c.otherwise(), scope);
        } else if (e instanceof FilterExpr f) {
            return applyFilter(f.name(), eval(f.target(), scope), f.args(), f.kwargs(), scope);
        } else if (e instanceof TestExpr t) {
            Builtins.Test test = Builtins.test(t.name());
            if (test == null) {
                throw new PyError("No test named '" + t.name() + "'.");
            }
            Object v = eval(t.target(), scope);
            return test.test(v, evalArgs(t.args(), scope), evalKwargs(t.kwargs(), scope));
        } else if (e instanceof Call c) {
            Object callee = eval(c.callee(), scope);
            List<Object> args = evalArgs(c.args(), scope);
            Map<String, Object> kwargs = evalKwargs(c.kwargs(), scope);
            if (callee instanceof Undefined u) {
                throw u.fail();
            }
            if (!(callee instanceof PyCallable fn)) {
                throw new PyError("'" + Py.typeName(callee) + "' object is not callable");
            }
            return fn.call(args, kwargs);
        } else if (e instanceof SliceExpr) {
            throw new PyError("slice outside of subscript");
        }
        throw new IllegalStateException("unknown expression " + e);
    }

    private Object opt(Expr e, Scope scope) {
        return e == null ? null : eval(e, scope);
    }

    private Object compare(Compare c, Scope scope) {
        Object left = eval(c.first(), scope);
        for (int i = 0; i < c.ops().size(); i++) {
            Object right = eval(c.rest().get(i), scope);
            String op = c.ops().get(i);
            boolean ok = switch (op) {
                case "==" -> Py.eq(left, right);
                case "!=" -> !Py.eq(left, right);
                case "in" -> Py.contains(right, left);
                case "notin" -> !Py.contains(right, left);
                case "<" -> Py.compare(left, right, op) < 0;
                case "<=" -> Py.compare(left, right, op) <= 0;
                case ">" -> Py.compare(left, right, op) > 0;
                case ">=" -> Py.compare(left, right, op) >= 0;
                default -> throw new IllegalStateException(op);
            };
            if (!ok) {
                return false;
            }
            left = right;
        }
        return true;
    }

    private Object applyFilter(String name, Object value, List<Expr> args, List<Kwarg> kwargs, Scope scope) {
        Builtins.Filter f = Builtins.filter(name);
        if (f == null) {
            throw new PyError("No filter named '" + name + "'.");
        }
        return f.apply(value, evalArgs(args, scope), evalKwargs(kwargs, scope));
    }

    private List<Object> evalArgs(List<Expr> args, Scope scope) {
        List<Object> out = new ArrayList<>(args.size());
        for (Expr a : args) {
            out.add(eval(a, scope));
        }
        return out;
    }

    private Map<String, Object> evalKwargs(List<Kwarg> kwargs, Scope scope) {
        if (kwargs.isEmpty()) {
            return Map.of();
        }
        Map<String, Object> out = new LinkedHashMap<>();
        for (Kwarg k : kwargs) {
            out.put(k.name(), eval(k.value(), scope));
        }
        return out;
    }
}
