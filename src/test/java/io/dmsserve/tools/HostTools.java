package io.dmsserve.tools;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What the integration tests need from the machine: executables on the PATH, free loopback ports, and the end of a
 * tool they started.
 */
public final class HostTools {

    private HostTools() {
    }

    /** The absolute path of an executable on the PATH, or a failure saying how to get it (never a skip). */
    public static String require(String name, String howToGetIt) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path candidate = Path.of(dir, name);
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        throw new IllegalStateException(name + " is not on the PATH: " + howToGetIt);
    }

    /** A port nobody listens on now (the test's server binds it next). */
    public static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    /**
     * Waits up to {@code minutes} for a process whose output goes to {@code log}, killing it and its descendants past
     * that, and returns the output; fails, with {@code what} and the output, if it ran out of time or exited non-zero.
     */
    public static String awaitSuccess(Process process, Path log, int minutes, String what)
            throws IOException, InterruptedException {
        boolean ended = process.waitFor(minutes, TimeUnit.MINUTES);
        if (!ended) {
            kill(process);
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        if (!ended) {
            throw new AssertionError(what + " did not end within " + minutes + " minutes:\n" + out);
        }
        if (process.exitValue() != 0) {
            throw new AssertionError(what + " exited with " + process.exitValue() + ":\n" + out);
        }
        return out;
    }

    /**
     * Kills a process and every process it started (a script's compiler or the program it runs), and waits up to 10
     * seconds for it: a test that gives up on a tool leaves nothing running into the tests after it.
     */
    public static void kill(Process process) throws InterruptedException {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }

    /** {@link #kill}s those of {@code processes} still running (a test's other tools, after one failed). */
    public static void killAlive(List<Process> processes) throws InterruptedException {
        for (Process process : processes) {
            if (process.isAlive()) {
                kill(process);
            }
        }
    }
}
