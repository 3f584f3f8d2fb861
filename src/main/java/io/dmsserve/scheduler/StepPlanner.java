package io.dmsserve.scheduler;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Plans one engine step, a pure function of the running and waiting sequences, the free pages and the
 * token budget (DESIGN.md §2):
 * <ol>
 *   <li>Admission: waiting sequences join, oldest first, while the batch has room and the pool can hold
 *       their windows beyond what the running sequences' next tokens may take. An empty batch always
 *       admits its first.</li>
 *   <li>Decode: every running sequence with one token to feed gets it, oldest first; when the pool cannot
 *       take a token, the youngest open sequence outside the step is preempted (recomputed later).</li>
 *   <li>Prefill: chunks of the others within what is left of the token budget, but at least a quarter of
 *       it, so prompts start while the batch is all decoding; a chunk halves until its pages fit.</li>
 *   <li>Stuck: when nothing fits, the youngest open sequence is preempted, or if it is alone, reported.</li>
 * </ol>
 * Page counts are the worst case (nothing evicted), so a step never runs out of pages half way.
 */
final class StepPlanner {

    /** A sequence as the planner sees it. */
    interface Candidate {
        long id();

        /** Whether it holds a cache (has been fed before and not preempted since). */
        boolean open();

        /** Tokens known but not yet in the cache. */
        int unfed();

        /** Tokens so far, prompt and generated. */
        int size();

        int generated();

        /** Tokens it holds at least while running (its window, or everything without eviction). */
        int residentTokens();
    }

    /** The KV cache's page arithmetic, as the planner needs it. */
    interface Pages {
        /** Worst case of the pages an open sequence's next {@code tokens} take. */
        int toStore(long id, int tokens);

        /** Pages a new sequence's first {@code tokens} take. */
        int forNew(int tokens);

        /** Pages an open sequence holds. */
        int held(long id);
    }

    record Chunk(Candidate sequence, int length) {
    }

    /**
     * @param admitted the first waiting sequences, now running (in order)
     * @param preempted open sequences that give their pages back and wait again, youngest first
     * @param chunks what the step feeds, in batch order
     * @param stuck the only running sequence, which cannot take a single token: it cannot go on
     */
    record Plan(List<Candidate> admitted, List<Candidate> preempted, List<Chunk> chunks, Candidate stuck) {
    }

    private volatile int maxRunning; // an admin may lower or raise it; read once per plan
    private final int stepTokens;

    StepPlanner(int maxRunning, int stepTokens) {
        this.maxRunning = maxRunning;
        this.stepTokens = stepTokens;
    }

    /**
     * Sequences in the batch from the next plan on. Lowering it preempts nobody: the batch shrinks as sequences
     * end, because admission waits for room.
     */
    /** Whether a batch of {@code running} sequences has no room for another. */
    boolean full(int running) {
        return running >= maxRunning;
    }

    /** Tokens a step feeds at most (decode tokens and prompt chunks together). */
    int stepTokens() {
        return stepTokens;
    }

    void maxRunning(int maxRunning) {
        this.maxRunning = maxRunning;
    }

    /**
     * @param running oldest first
     * @param waiting in queue order
     */
    Plan plan(List<? extends Candidate> running, List<? extends Candidate> waiting, int freePages, Pages pages) {
        List<Candidate> active = new ArrayList<>(running);
        List<Candidate> admitted = admit(active, waiting, freePages, pages);
        active.addAll(admitted);
        List<Candidate> preempted = new ArrayList<>();
        List<Chunk> chunks = new ArrayList<>();
        Set<Candidate> inStep = new HashSet<>();
        int free = freePages;
        int budget = stepTokens;
        for (Candidate sequence : List.copyOf(active)) {
            if (!sequence.open() || sequence.unfed() != 1 || !active.contains(sequence)) {
                continue;
            }
            int needed = pages.toStore(sequence.id(), 1);
            while (needed > free) {
                Candidate victim = youngestOpen(active, sequence, inStep);
                if (victim == null) {
                    break;
                }
                free += pages.held(victim.id());
                active.remove(victim);
                preempted.add(victim);
            }
            if (needed > free) {
                break;
            }
            free -= needed;
            budget--;
            chunks.add(new Chunk(sequence, 1));
            inStep.add(sequence);
        }
        budget = Math.max(budget, Math.max(1, stepTokens / 4));
        for (Candidate sequence : active) {
            if (budget <= 0) {
                break;
            }
            if (inStep.contains(sequence)) {
                continue;
            }
            int chunk = Math.min(sequence.unfed(), budget);
            while (chunk > 0 && cost(sequence, chunk, pages) > free) {
                chunk /= 2;
            }
            if (chunk == 0) {
                continue;
            }
            free -= cost(sequence, chunk, pages);
            budget -= chunk;
            chunks.add(new Chunk(sequence, chunk));
            inStep.add(sequence);
        }
        Candidate stuck = null;
        if (chunks.isEmpty() && !active.isEmpty()) {
            Candidate victim = active.size() > 1 ? youngestOpen(active, null, inStep) : null;
            if (victim != null) {
                preempted.add(victim);
            } else {
                stuck = active.get(active.size() - 1);
            }
        }
        return new Plan(admitted, preempted, chunks, stuck);
    }

    private List<Candidate> admit(List<Candidate> running, List<? extends Candidate> waiting, int freePages,
            Pages pages) {
        List<Candidate> admitted = new ArrayList<>();
        int maxRunning = this.maxRunning;
        int free = freePages;
        for (Candidate sequence : running) {
            if (sequence.open()) {
                free -= pages.toStore(sequence.id(), 1); // the running sequences' next tokens come first
            }
        }
        for (Candidate next : waiting) {
            if (running.size() + admitted.size() >= maxRunning) {
                break;
            }
            int needed = pages.forNew(next.residentTokens());
            if (needed > free && !(running.isEmpty() && admitted.isEmpty())) {
                break;
            }
            admitted.add(next);
            free -= needed;
        }
        return admitted;
    }

    private static int cost(Candidate sequence, int tokens, Pages pages) {
        return sequence.open() ? pages.toStore(sequence.id(), tokens) : pages.forNew(tokens);
    }

    /** The most recently admitted open sequence other than {@code keep} and not in the step. */
    private static Candidate youngestOpen(List<Candidate> active, Candidate keep, Set<Candidate> inStep) {
        for (int i = active.size() - 1; i >= 0; i--) {
            Candidate c = active.get(i);
            if (c != keep && c.open() && !inStep.contains(c)) {
                return c;
            }
        }
        return null;
    }
}
