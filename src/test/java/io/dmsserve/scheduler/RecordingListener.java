package io.dmsserve.scheduler;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Collects a sequence's tokens and its end; optionally cancels itself after some tokens. */
class RecordingListener implements GenerationListener {

    final List<Integer> tokens = new ArrayList<>();
    final CompletableFuture<FinishReason> finished = new CompletableFuture<>();
    volatile Usage usage;
    private GenerationHandle handle;  // guarded by this
    private boolean cancelWanted;     // guarded by this: tokens may arrive before submit() returns
    private final int cancelAfter;

    RecordingListener() {
        this(Integer.MAX_VALUE);
    }

    RecordingListener(int cancelAfter) {
        this.cancelAfter = cancelAfter;
    }

    @Override
    public synchronized boolean onToken(int tokenId) {
        tokens.add(tokenId);
        if (tokens.size() == cancelAfter) {
            if (handle != null) {
                handle.cancel();
            } else {
                cancelWanted = true;
            }
        }
        return true;
    }

    synchronized void attach(GenerationHandle handle) {
        this.handle = handle;
        if (cancelWanted) {
            handle.cancel();
        }
    }

    @Override
    public void onComplete(FinishReason reason, Usage usage) {
        this.usage = usage;
        finished.complete(reason);
    }

    @Override
    public void onError(RuntimeException error) {
        finished.completeExceptionally(error);
    }

    FinishReason await() throws Exception {
        return finished.get(60, TimeUnit.SECONDS);
    }

    synchronized int[] ids() {
        return tokens.stream().mapToInt(Integer::intValue).toArray();
    }
}
