package io.dmsserve.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The step planner as a pure function, with exact expectations, on a cache where every token takes one page
 * (one head, pages of one token): a sequence's next t tokens take t pages, preempting it gives back what it
 * holds.
 */
class StepPlannerTest {

    /** A sequence as the planner sees it; {@code held} is what preempting it frees. */
    record Seq(long id, boolean open, int unfed, int size, int generated, int residentTokens, int held)
            implements StepPlanner.Candidate {

        static Seq decoding(long id, int held) {
            return new Seq(id, true, 1, held + 1, 1, held + 1, held);
        }

        static Seq waiting(long id, int tokens) {
            return new Seq(id, false, tokens, tokens, 0, tokens, 0);
        }

        static Seq prefilling(long id, int fed, int unfed) {
            return new Seq(id, true, unfed, fed + unfed, 0, fed + unfed, fed);
        }
    }

    /** One page per token. */
    static final class OnePagePerToken implements StepPlanner.Pages {
        final Map<Long, Integer> held = new HashMap<>();

        OnePagePerToken(Seq... sequences) {
            for (Seq s : sequences) {
                held.put(s.id(), s.held());
            }
        }

        @Override
        public int toStore(long id, int tokens) {
            return tokens;
        }

        @Override
        public int forNew(int tokens) {
            return tokens;
        }

        @Override
        public int held(long id) {
            return held.get(id);
        }
    }

    private static List<String> chunks(StepPlanner.Plan plan) {
        List<String> out = new ArrayList<>();
        for (StepPlanner.Chunk chunk : plan.chunks()) {
            out.add(chunk.sequence().id() + ":" + chunk.length());
        }
        return out;
    }

    private static List<Long> ids(List<StepPlanner.Candidate> sequences) {
        return sequences.stream().map(StepPlanner.Candidate::id).toList();
    }

    @Test
    void admitsOldestFirstAndPrefillsWithinTheBudget() {
        Seq a = Seq.waiting(1, 10);
        Seq b = Seq.waiting(2, 5);
        StepPlanner.Plan plan = new StepPlanner(4, 8).plan(List.of(), List.of(a, b), 100, new OnePagePerToken(a, b));
        assertThat(ids(plan.admitted())).containsExactly(1L, 2L);
        assertThat(chunks(plan)).containsExactly("1:8");
        assertThat(plan.preempted()).isEmpty();
        assertThat(plan.stuck()).isNull();
    }

    @Test
    void decodeTokensComeFirstAndPrefillKeepsAQuarterOfTheBudget() {
        Seq d1 = Seq.decoding(1, 10);
        Seq d2 = Seq.decoding(2, 10);
        Seq p = Seq.prefilling(3, 4, 20);
        StepPlanner.Plan plan = new StepPlanner(8, 8).plan(List.of(d1, d2, p), List.of(), 100,
                new OnePagePerToken(d1, d2, p));
        assertThat(chunks(plan)).containsExactly("1:1", "2:1", "3:6");

        List<Seq> full = new ArrayList<>();
        for (int i = 1; i <= 8; i++) {
            full.add(Seq.decoding(i, 3));
        }
        full.add(p = Seq.prefilling(9, 4, 20));
        plan = new StepPlanner(16, 8).plan(full, List.of(), 100, new OnePagePerToken(full.toArray(Seq[]::new)));
        assertThat(chunks(plan)).containsExactly("1:1", "2:1", "3:1", "4:1", "5:1", "6:1", "7:1", "8:1", "9:2");
    }

    @Test
    void whenTheNextTokenDoesNotFitTheYoungestOpenSequenceIsPreempted() {
        Seq d1 = Seq.decoding(1, 10);
        Seq d2 = Seq.decoding(2, 5);
        Seq d3 = Seq.decoding(3, 3);
        StepPlanner.Plan plan = new StepPlanner(8, 8).plan(List.of(d1, d2, d3), List.of(), 1,
                new OnePagePerToken(d1, d2, d3));
        // d1 takes the free page; d2 needs one: d3 gives back its 3 and is not fed this step.
        assertThat(chunks(plan)).containsExactly("1:1", "2:1");
        assertThat(ids(plan.preempted())).containsExactly(3L);
        assertThat(plan.stuck()).isNull();
    }

    @Test
    void admissionLeavesRoomForTheRunningSequencesNextTokens() {
        Seq d = Seq.decoding(1, 4);
        Seq w = Seq.waiting(2, 5);
        // 5 free pages, 1 of them for d's next token: w's 5 resident tokens do not fit.
        StepPlanner.Plan plan = new StepPlanner(8, 8).plan(List.of(d), List.of(w), 5, new OnePagePerToken(d, w));
        assertThat(plan.admitted()).isEmpty();
        assertThat(chunks(plan)).containsExactly("1:1");
        // 6 free pages: it fits.
        plan = new StepPlanner(8, 8).plan(List.of(d), List.of(w), 6, new OnePagePerToken(d, w));
        assertThat(ids(plan.admitted())).containsExactly(2L);
        assertThat(chunks(plan)).containsExactly("1:1", "2:5");
        // A full batch admits nobody.
        plan = new StepPlanner(1, 8).plan(List.of(d), List.of(w), 100, new OnePagePerToken(d, w));
        assertThat(plan.admitted()).isEmpty();
    }

    @Test
    void anEmptyBatchAdmitsItsFirstEvenIfItCannotFitAndThenReportsItStuck() {
        Seq huge = Seq.waiting(1, 50);
        StepPlanner.Plan plan = new StepPlanner(8, 64).plan(List.of(), List.of(huge), 0, new OnePagePerToken(huge));
        assertThat(ids(plan.admitted())).containsExactly(1L);
        assertThat(plan.chunks()).isEmpty();
        assertThat(plan.stuck()).isSameAs(huge);
    }

    @Test
    void aChunkHalvesUntilItsPagesFit() {
        Seq p = Seq.prefilling(1, 2, 10);
        StepPlanner.Plan plan = new StepPlanner(8, 16).plan(List.of(p), List.of(), 3, new OnePagePerToken(p));
        assertThat(chunks(plan)).containsExactly("1:2"); // 10, 5, then 2 pages fit in 3
    }

    @Test
    void twoSequencesThatCannotMoveGiveWayYoungestFirst() {
        Seq a = Seq.prefilling(1, 6, 4);
        Seq b = Seq.prefilling(2, 3, 4);
        StepPlanner.Plan plan = new StepPlanner(8, 16).plan(List.of(a, b), List.of(), 0, new OnePagePerToken(a, b));
        assertThat(plan.chunks()).isEmpty();
        assertThat(ids(plan.preempted())).containsExactly(2L);
        assertThat(plan.stuck()).isNull();
    }
}
