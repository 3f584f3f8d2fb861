package io.dmsserve.config;

/**
 * When the model started and finished loading (checkpoint mapped, weights on the backend, KV pool allocated),
 * for metrics. Loading happens while the application context starts, before the port opens, so a scrape
 * always sees it done; the state exists so a dashboard can show the load time and notice a restart.
 */
public final class ModelLoad {

    private final long started = System.nanoTime();
    private volatile long finished = -1;

    /** The engine is built (called by the configuration once the scheduler exists). */
    public void finished() {
        finished = System.nanoTime();
    }

    public boolean done() {
        return finished >= 0;
    }

    /** 0 while loading, 1 once the engine is ready to start. */
    public double progress() {
        return done() ? 1.0 : 0.0;
    }

    /** How long loading took, or has taken so far. */
    public double seconds() {
        long end = done() ? finished : System.nanoTime();
        return (end - started) / 1e9;
    }
}
