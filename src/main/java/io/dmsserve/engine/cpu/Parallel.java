package io.dmsserve.engine.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;

/** Splits an index range into blocks run on the backend's own fork-join pool. */
final class Parallel {

    @FunctionalInterface
    interface RangeBody {
        void run(int from, int to);
    }

    private final ForkJoinPool pool;

    Parallel(int threads) {
        this.pool = new ForkJoinPool(threads);
    }

    int threads() {
        return pool.getParallelism();
    }

    /** Runs body over [0, count) in blocks of at least minBlock indices; small ranges run inline. */
    void forRange(int count, int minBlock, RangeBody body) {
        if (count <= minBlock || pool.getParallelism() == 1) {
            body.run(0, count);
            return;
        }
        // A few blocks per thread keeps the cores busy when blocks take uneven time.
        int blocks = Math.min(pool.getParallelism() * 4, (count + minBlock - 1) / minBlock);
        pool.invoke(new Block(body, 0, count, (count + blocks - 1) / blocks));
    }

    void close() {
        pool.shutdown();
    }

    private static final class Block extends RecursiveAction {
        private final RangeBody body;
        private final int from;
        private final int to;
        private final int grain;

        Block(RangeBody body, int from, int to, int grain) {
            this.body = body;
            this.from = from;
            this.to = to;
            this.grain = grain;
        }

        @Override
        protected void compute() {
            if (to - from <= grain) {
                body.run(from, to);
                return;
            }
            int mid = from + (to - from) / 2;
            invokeAll(new Block(body, from, mid, grain), new Block(body, mid, to, grain));
        }
    }
}
