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
            s.mask = compute(s);
            masksComputed++;
        }
        return s.mask;
    }

    /**
     * A state's mask, computed without walking the whole vocabulary inside strings. The stacks of a state move
     * independently (a token is allowed iff some stack survives it), so the mask is the union of its stacks'
     * masks. A stack in a string body accepts a quote-free token iff its lexer does, whatever follows the string
     * ({@link StringBodies}, precomputed per tokenizer); only the tokens with a quote are walked through the
     * automaton. The other stacks are walked as they were. Equal to {@link #fullWalkMask} (GrammarMaskTest checks).
     */
    private long[] compute(State s) {
        long[] mask = new long[vocabulary.words()];
        Set<Stack> strings = new LinkedHashSet<>();
        Set<Stack> others = new LinkedHashSet<>();
        for (Stack stack : s.stacks) {
            if (!stack.isEmpty() && stack.top instanceof Frame.StrBody body) {
                strings.add(stack);
                int remaining = body.str().maxLength == Integer.MAX_VALUE ? Integer.MAX_VALUE
                        : body.str().maxLength - body.length();
                vocabulary.stringBody(StringBodies.Key.of(body)).orInto(mask, remaining);
            } else {
                others.add(stack);
            }
        }
        if (strings.isEmpty()) {
            walk(vocabulary.trie, 0, s, mask);
        } else {
            walk(vocabulary.quoteTrie, 0, others.isEmpty() ? s : intern(strings), mask);
            if (!others.isEmpty()) {
                walk(vocabulary.trie, 0, intern(others), mask);
            }
        }
        allowEos(s, mask);
        return mask;
    }

    /** The mask by a walk of the whole vocabulary trie, uncached: what {@link #mask} must equal, for tests. */
    synchronized long[] fullWalkMask(Object state) {
        State s = (State) state;
        long[] mask = new long[vocabulary.words()];
        walk(vocabulary.trie, 0, s, mask);
        allowEos(s, mask);
        return mask;
    }

    private void allowEos(State s, long[] mask) {
        if (s.accepting) {
            for (int id : vocabulary.eosIds) {
                mask[id >>> 6] |= 1L << id;
            }
        }
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
    private void walk(Vocabulary.Trie trie, int n, State s, long[] mask) {
        for (int i = trie.tokenStart[n]; i < trie.tokenStart[n + 1]; i++) {
            int id = trie.tokenIds[i];
            mask[id >>> 6] |= 1L << id;
        }
        for (int e = trie.edgeStart[n]; e < trie.edgeStart[n + 1]; e++) {
            State t = next(s, trie.edgeByte[e] & 0xff);
            if (t != DEAD) {
                walk(trie, trie.edgeChild[e], t, mask);
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
        // Most bytes are refused (a mask walk tries every edge of the trie's root): no set for those.
        Set<Stack> out = null;
        for (Stack stack : s.list) {
            if (stack.isEmpty()) {
                continue;
            }
            Frame[] replacement = stack.top.consume(b);
            if (replacement != null) {
                if (out == null) {
                    out = new LinkedHashSet<>();
                }
                close(stack.replaceTop(replacement), out);
            }
        }
        return out == null || out.isEmpty() ? DEAD : intern(out);
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
