package io.dmsserve.api;

import java.util.List;

/**
 * Finds stop strings in streamed text. Text that could still become the start of a stop string is held
 * back until the next piece decides, so a stop string never reaches the client, even when it spans tokens.
 * One Knuth-Morris-Pratt automaton per stop string keeps the work linear in the text.
 * One instance per choice; not thread-safe.
 */
final class StopMatcher {

    private final String[] stops;
    private final int[][] failure;
    private final int[] state;     // per stop: longest prefix of it that ends the text seen so far
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    StopMatcher(List<String> stops) {
        this.stops = stops.toArray(String[]::new);
        this.failure = new int[this.stops.length][];
        for (int i = 0; i < this.stops.length; i++) {
            failure[i] = failure(this.stops[i]);
        }
        this.state = new int[this.stops.length];
    }

    /** Takes the next piece of text; returns what may be sent now (after a match: the text before it). */
    String accept(String text) {
        if (stopped || stops.length == 0) {
            return stopped ? "" : text;
        }
        for (int p = 0; p < text.length(); p++) {
            char c = text.charAt(p);
            held.append(c);
            int cut = -1;
            for (int i = 0; i < stops.length; i++) {
                int s = advance(i, state[i], c);
                state[i] = s;
                if (s == stops[i].length()) {
                    int start = held.length() - s;
                    cut = cut < 0 ? start : Math.min(cut, start);
                }
            }
            if (cut >= 0) {
                stopped = true;
                String out = held.substring(0, cut);
                held.setLength(0);
                return out;
            }
        }
        int keep = 0;
        for (int s : state) {
            keep = Math.max(keep, s);
        }
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return out;
    }

    /** The text ended: takes its last piece and returns everything still held that is not cut off. */
    String finish(String text) {
        String out = accept(text);
        if (stopped) {
            return out;
        }
        String rest = held.toString();
        held.setLength(0);
        return out + rest;
    }

    /** True once a stop string was found; the choice ends there. */
    boolean stopped() {
        return stopped;
    }

    private int advance(int i, int s, char c) {
        String stop = stops[i];
        if (s == stop.length()) {
            s = failure[i][s - 1];
        }
        while (s > 0 && stop.charAt(s) != c) {
            s = failure[i][s - 1];
        }
        return stop.charAt(s) == c ? s + 1 : 0;
    }

    /** failure[k] = length of the longest proper prefix of stop[0..k] that is also its suffix. */
    private static int[] failure(String stop) {
        int[] f = new int[stop.length()];
        int k = 0;
        for (int i = 1; i < stop.length(); i++) {
            while (k > 0 && stop.charAt(i) != stop.charAt(k)) {
                k = f[k - 1];
            }
            if (stop.charAt(i) == stop.charAt(k)) {
                k++;
            }
            f[i] = k;
        }
        return f;
    }
}
