package io.dmsserve.deploy;

import io.dmsserve.tools.HostTools;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The Docker tools the deployment tests drive. Missing tools fail the test with what to do (.ci/run installs and
 * starts them); a developer without Docker leaves these tests out with {@code -Pno-docker} (README.md).
 */
final class Docker {

    /** The base image docker/ci/base-images.sh makes from the Debian mirror (no image registry is reachable). */
    static final String RUNTIME_BASE = System.getenv().getOrDefault("DMS_CI_RUNTIME_BASE",
            "dms-serve-ci/runtime-base:bookworm");

    private Docker() {
    }

    record Result(int exit, String out) {
    }

    static String require(String name) {
        return HostTools.require(name, ".ci/run installs Debian's docker.io and docker-compose; without Docker run"
                + " ./mvnw verify -Pno-docker");
    }


    /** The engine answers, and the base image is there; fails (never skips) saying how to get them. */
    static void requireEngineAndBaseImage() throws Exception {
        Result version = run(new ProcessBuilder(require("docker"), "version", "--format", "{{.Server.Version}}"),
                Duration.ofSeconds(30));
        if (version.exit != 0) {
            throw new IllegalStateException("no Docker engine answers (" + version.out.strip() + "): start one, e.g."
                    + " dockerd --bridge=none --iptables=false & (as .ci/run does), or run -Pno-docker");
        }
        Result base = run(new ProcessBuilder(require("docker"), "image", "inspect", RUNTIME_BASE),
                Duration.ofSeconds(30));
        if (base.exit != 0) {
            throw new IllegalStateException("base image " + RUNTIME_BASE + " is missing: make it with"
                    + " docker/ci/base-images.sh (as .ci/run does)");
        }
    }

    /**
     * Runs a process to its end; output and errors together. The caller makes the ProcessBuilder, so that the test
     * class itself shows that it starts a process (TestTiersTest reads the calls of the class, not of helpers).
     */
    static Result run(ProcessBuilder builder, Duration timeout) throws IOException, InterruptedException {
        Path out = Files.createTempFile("dms-docker", ".log");
        try {
            Process process = builder.redirectErrorStream(true).redirectOutput(out.toFile()).start();
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                throw new AssertionError(String.join(" ", builder.command()) + " did not end within " + timeout
                        + ":\n" + Files.readString(out, StandardCharsets.UTF_8));
            }
            return new Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** Like {@link #run} but a non-zero exit fails, showing the output. */
    static String check(ProcessBuilder builder, Duration timeout) throws IOException, InterruptedException {
        Result result = run(builder, timeout);
        if (result.exit != 0) {
            throw new AssertionError(String.join(" ", builder.command()) + " exited " + result.exit + ":\n"
                    + result.out);
        }
        return result.out;
    }

    static ProcessBuilder with(ProcessBuilder builder, Map<String, String> env) {
        builder.environment().putAll(env);
        return builder;
    }

}
