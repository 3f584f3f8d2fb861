package io.dmsserve.structured;

import io.dmsserve.sampling.TokenConstraint;

/**
 * One sequence's constraint: a grammar's state, advanced token by token. A thinking model may first reason:
 * {@code <think>} may open the answer, anything but the end of the sequence follows, and after
 * {@code budget} reasoning tokens only {@code </think>} is allowed; up to two whitespace tokens may follow it
 * (Qwen3 writes a blank line), then the grammar holds.
 */
public final class GrammarConstraint implements TokenConstraint {

    /** How the output may begin. */
    public enum Start {
        /** The grammar from the first token (the prompt closed or never opened the thinking block). */
        GRAMMAR,
        /** The model may open a thinking block first. */
        MAY_THINK,
        /** The prompt opened the thinking block: the output reasons first. */
        THINKING
    }

    private enum Phase { PRE, REASONING, GAP, GRAMMAR }

    private static final int MAX_GAP = 2;

    private final Grammar grammar;
    private final int thinkStart;
    private final int thinkEnd;
    private final int budget;
    private Phase phase;
    private Object state;
    private int reasoning;
    private int gap;
    private long[] cached;        // the mask of the current non-grammar phase
    private Phase cachedFor;

    /**
     * @param thinkStart id of {@code <think>}, thinkEnd of {@code </think>} (ignored for {@link Start#GRAMMAR})
     * @param budget most reasoning tokens before {@code </think>} is forced
     */
    public GrammarConstraint(Grammar grammar, Start start, int thinkStart, int thinkEnd, int budget) {
        this.grammar = grammar;
        this.thinkStart = thinkStart;
        this.thinkEnd = thinkEnd;
        this.budget = budget;
        this.state = grammar.start();
        this.phase = switch (start) {
            case GRAMMAR -> Phase.GRAMMAR;
            case MAY_THINK -> Phase.PRE;
            case THINKING -> Phase.REASONING;
        };
    }

    /** Whether the grammar's value is complete. */
    public boolean complete() {
        return phase == Phase.GRAMMAR && grammar.complete(state);
    }

    @Override
    public long[] allowed() {
        Vocabulary v = grammar.vocabulary();
        switch (phase) {
            case GRAMMAR:
                return grammar.mask(state);
            case REASONING:
                if (reasoning >= budget) {
                    return only(v, thinkEnd);
                }
                return phaseMask(() -> {
                    long[] mask = new long[v.words()];
                    for (int id = 0; id < v.size; id++) {
                        mask[id >>> 6] |= 1L << id;
                    }
                    for (int id : v.eosIds) {
                        mask[id >>> 6] &= ~(1L << id);
                    }
                    return mask;
                });
            case PRE:
                return phaseMask(() -> with(grammar.mask(state), thinkStart));
            default:
                return phaseMask(() -> {
                    long[] mask = grammar.mask(state).clone();
                    for (int id = 0; id < v.size; id++) {
                        if (whitespace(v.tokens[id])) {
                            mask[id >>> 6] |= 1L << id;
                        }
                    }
                    return mask;
                });
        }
    }

    @Override
    public void accept(int token) {
        switch (phase) {
            case PRE -> {
                if (token == thinkStart) {
                    phase = Phase.REASONING;
                } else {
                    phase = Phase.GRAMMAR;
                    advance(token);
                }
            }
            case REASONING -> {
                reasoning++;
                if (token == thinkEnd) {
                    phase = Phase.GAP;
                }
            }
            case GAP -> {
                if (whitespace(grammar.vocabulary().tokens[token]) && ++gap < MAX_GAP) {
                    return;
                }
                phase = Phase.GRAMMAR;
                if (!whitespace(grammar.vocabulary().tokens[token])) {
                    advance(token);
                }
            }
            case GRAMMAR -> advance(token);
        }
    }

    private void advance(int token) {
        Object next = grammar.advance(state, token);
        if (next == null) {
            throw new IllegalStateException("token " + token + " is not allowed by the grammar here");
        }
        state = next;
    }

    private long[] phaseMask(java.util.function.Supplier<long[]> make) {
        if (cachedFor != phase) {
            cached = make.get();
            cachedFor = phase;
        }
        return cached;
    }

    private static long[] only(Vocabulary v, int id) {
        long[] mask = new long[v.words()];
        mask[id >>> 6] |= 1L << id;
        return mask;
    }

    private static long[] with(long[] mask, int id) {
        long[] out = mask.clone();
        out[id >>> 6] |= 1L << id;
        return out;
    }

    private static boolean whitespace(byte[] bytes) {
        if (bytes == null || bytes.length == 0) {
            return false;
        }
        for (byte b : bytes) {
            if (b != '\n' && b != ' ') {
                return false;
            }
        }
        return true;
    }
}
