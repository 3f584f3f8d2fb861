package io.dmsserve.metrics;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the Prometheus tools the observability tests run; .ci/run installs Debian's prometheus package. */
final class Tools {

    /** The observability files under test: dashboards, scrape configuration, alert rules. */
    static final Path OBSERVABILITY = Path.of("observability");

    private Tools() {
    }

    /** The absolute path of an executable on the PATH, or a failure saying how to get it (never a skip). */
    static String require(String name) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path candidate = Path.of(dir, name);
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        throw new IllegalStateException(name + " is not on the PATH: install Debian's prometheus package, which"
                + " brings prometheus and promtool (.ci/run does: apt-get install prometheus)");
    }
}
