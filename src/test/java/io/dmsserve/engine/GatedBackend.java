package io.dmsserve.engine;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;

/**
 * A real backend behind a gate the test holds: while the gate is closed, a step waits before it runs, so a
 * test can fill the batch and the queue and look at them without racing the engine; a delay per step makes
 * long generations last long whatever the machine's speed. Tests of the service get one by importing
 * {@link Wrap}, which wraps the application's backend bean.
 */
public final class GatedBackend extends DelegatingBackend {

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition opened = lock.newCondition();
    private boolean closed;
    private volatile long delayNanos;
    private final AtomicInteger waiting = new AtomicInteger();

    public GatedBackend(Backend backend) {
        super(backend);
    }

    /** Steps wait from now on, until {@link #release()}. */
    public void hold() {
        lock.lock();
        try {
            closed = true;
        } finally {
            lock.unlock();
        }
    }

    public void release() {
        lock.lock();
        try {
            closed = false;
            opened.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Every step takes at least this long from now on. */
    public void delayEachStep(long duration, TimeUnit unit) {
        delayNanos = unit.toNanos(duration);
    }

    /** Steps waiting at the gate now. */
    public int waitingSteps() {
        return waiting.get();
    }

    /** Waits until a step is held at the gate. */
    public void awaitHeldStep() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (waiting.get() == 0) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no step reached the gate in 30 s");
            }
            Thread.sleep(1);
        }
    }

    @Override
    public StepOutput step(StepPlan plan) {
        lock.lock();
        try {
            waiting.incrementAndGet();
            while (closed) {
                opened.awaitUninterruptibly();
            }
        } finally {
            waiting.decrementAndGet();
            lock.unlock();
        }
        long delay = delayNanos;
        if (delay > 0) {
            try {
                TimeUnit.NANOSECONDS.sleep(delay);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return inner.step(plan);
    }

    @Override
    public void close() {
        release();
        super.close();
    }

    /** Imported by a service test: the application's backend bean, behind a gate. */
    @TestConfiguration(proxyBeanMethods = false)
    public static class Wrap {

        @Bean
        static BeanPostProcessor gateTheBackend() {
            return new BeanPostProcessor() {
                @Override
                public Object postProcessAfterInitialization(Object bean, String name) {
                    return bean instanceof Backend backend && !(bean instanceof GatedBackend)
                            ? new GatedBackend(backend) : bean;
                }
            };
        }
    }
}
