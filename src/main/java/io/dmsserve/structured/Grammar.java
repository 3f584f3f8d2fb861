package io.dmsserve.structured;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * A compiled JSON grammar over one {@link Vocabulary}: states, their byte transitions and their token masks,
 * each computed once and cached. Not thread-safe by design of its caller (the engine thread); methods are
 * synchronized so a benchmark or a test may share it.
 */
public final class Grammar {

    static final State DEAD = new State(Set.of());
    /** Deeper nesting than this is refused, so that a free-form value cannot nest without end. */
    static final int MAX_DEPTH = 96;
    /** Interned states kept before the table is emptied (states in use stay valid). */
    static final int MAX_STATES = 100_000;

    private final Node root;
    private final Vocabulary vocabulary;
    private final Map<Set<Stack>, State> states = new HashMap<>();
    private final State start;
    private long masksComputed;

    Grammar(Node root, Vocabulary vocabulary) {
        this.root = root;
        this.vocabulary = vocabulary;
        Set<Stack> initial = new LinkedHashSet<>();
        close(Stack.EMPTY.push(new Frame.Value(root)), initial);
        this.start = intern(initial);
    }

    public Vocabulary vocabulary() {
        return vocabulary;
    }

    /** The state before any output. */
    public synchronized Object start() {
        return start;
    }

    /** Whether the output so far is a complete value (end-of-sequence allowed). */
    public boolean complete(Object state) {
        return ((State) state).accepting;
    }

    /** The state after a token, or null when the token cannot come here. */
    public synchronized Object advance(Object state, int token) {
        State s = (State) state;
        if (token < 0 || token >= vocabulary.size) {
            return null;
        }
        if (isEos(token)) {
            return s.accepting ? s : null;
        }
        byte[] bytes = vocabulary.tokens[token];
        if (bytes == null || bytes.length == 0) {
            return null;
        }
        for (byte b : bytes) {
            s = next(s, b & 0xff);
            if (s == DEAD) {
                return null;
            }
        }
        return s;
    }

    /** The tokens allowed next: bit t of {@code mask[t >> 6]}. Shared: never modify it. */
    public synchronized long[] mask(Object state) {
        State s = (State) state;
        if (s.mask == null) {
            long[] mask = new long[vocabulary.words()];
            walk(0, s, mask);
            if (s.accepting) {
                for (int id : vocabulary.eosIds) {
                    mask[id >>> 6] |= 1L << id;
                }
            }
            s.mask = mask;
            masksComputed++;
        }
        return s.mask;
    }

    /** Masks computed so far (a measure of the cache's work, for the benchmark). */
    public synchronized long masksComputed() {
        return masksComputed;
    }

    private boolean isEos(int token) {
        for (int id : vocabulary.eosIds) {
            if (id == token) {
                return true;
            }
        }
        return false;
    }

    /** Depth-first over the trie from node n, in state s: tokens ending where s is alive are allowed. */
    private void walk(int n, State s, long[] mask) {
        Vocabulary v = vocabulary;
        for (int i = v.tokenStart[n]; i < v.tokenStart[n + 1]; i++) {
            int id = v.tokenIds[i];
            mask[id >>> 6] |= 1L << id;
        }
        for (int e = v.edgeStart[n]; e < v.edgeStart[n + 1]; e++) {
            State t = next(s, v.edgeByte[e] & 0xff);
            if (t != DEAD) {
                walk(v.edgeChild[e], t, mask);
            }
        }
    }

    private State next(State s, int b) {
        State t = s.next[b];
        if (t == null) {
            t = step(s, b);
            s.next[b] = t;
        }
        return t;
    }

    private State step(State s, int b) {
        Set<Stack> out = new LinkedHashSet<>();
        for (Stack stack : s.stacks) {
            if (stack.isEmpty()) {
                continue;
            }
            Frame[] replacement = stack.top.consume(b);
            if (replacement != null) {
                close(stack.replaceTop(replacement), out);
            }
        }
        return out.isEmpty() ? DEAD : intern(out);
    }

    /** Adds every stack reachable by epsilon moves whose top consumes (or that is empty). */
    private static void close(Stack stack, Set<Stack> out) {
        Deque<Stack> work = new ArrayDeque<>();
        Set<Stack> seen = new java.util.HashSet<>();
        work.push(stack);
        while (!work.isEmpty()) {
            Stack s = work.pop();
            if (!seen.add(s) || s.depth > MAX_DEPTH) {
                continue;
            }
            if (s.isEmpty()) {
                out.add(s);
                continue;
            }
            if (s.top.consumes()) {
                out.add(s);
            }
            for (Frame[] alternative : s.top.epsilon()) {
                work.push(s.replaceTop(alternative));
            }
        }
    }

    private State intern(Set<Stack> stacks) {
        State s = states.get(stacks);
        if (s == null) {
            if (states.size() >= MAX_STATES) {
                states.clear();
            }
            s = new State(Set.copyOf(stacks));
            states.put(s.stacks, s);
        }
        return s;
    }
}
