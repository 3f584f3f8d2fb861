package io.dmsserve.scheduler;

import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/** Work that needs the executor, which only the engine thread may use: run between two steps. */
final class EngineTask<T> implements Runnable {

    private final Function<StepExecutor, T> work;
    private final StepExecutor executor;
    final CompletableFuture<T> future = new CompletableFuture<>();

    EngineTask(Function<StepExecutor, T> work, StepExecutor executor) {
        this.work = work;
        this.executor = executor;
    }

    @Override
    public void run() {
        try {
            future.complete(work.apply(executor));
        } catch (Throwable e) {
            // Whatever it was, the engine thread goes on with the next step; the caller gets the failure.
            future.completeExceptionally(e);
        }
    }

    void abandon(RuntimeException reason) {
        future.completeExceptionally(reason);
    }
}
