package io.dmsserve.config;

import io.dmsserve.engine.Checkpoint;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.scheduler.StepExecutor;
import io.dmsserve.tokenizer.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.context.SmartLifecycle;

/**
 * Starts the engine thread before the web server takes requests and stops it after the web server has
 * stopped (a lower phase than the server's); may do so more than once (a paused context). When the context
 * closes, closes backend, tokenizer and mapped files, in that order, unless a step was still running.
 */
final class EngineLifecycle implements SmartLifecycle, DisposableBean {

    private static final Logger log = LoggerFactory.getLogger(EngineLifecycle.class);
    /** Below the web server's start/stop phase (DEFAULT_PHASE − 2048). */
    static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 4096;

    private final Scheduler scheduler;
    private final StepExecutor executor;
    private final Tokenizer tokenizer;
    private final Checkpoint checkpoint;
    private volatile boolean running;
    private volatile boolean stuck;

    EngineLifecycle(Scheduler scheduler, StepExecutor executor, Tokenizer tokenizer, Checkpoint checkpoint) {
        this.scheduler = scheduler;
        this.executor = executor;
        this.tokenizer = tokenizer;
        this.checkpoint = checkpoint;
    }

    @Override
    public void start() {
        scheduler.start();
        running = true;
    }

    @Override
    public void stop() {
        running = false;
        stuck = !scheduler.stop();
        if (stuck) {
            log.warn("the engine did not stop within 30 s; a step is still running");
        }
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        return PHASE;
    }

    @Override
    public void destroy() {
        if (running) {
            stop();
        }
        if (stuck) {
            // Closing the backend under the running step would crash the JVM's mapped reads; the process is
            // going away anyway.
            log.warn("leaving the backend open: its last step never finished");
            return;
        }
        executor.close();
        tokenizer.close();
        checkpoint.close();
    }
}
