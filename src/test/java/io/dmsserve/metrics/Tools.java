package io.dmsserve.metrics;

import io.dmsserve.tools.HostTools;
import java.nio.file.Path;

/** Finds the Prometheus tools the observability tests run; .ci/run installs Debian's prometheus package. */
final class Tools {

    /** The observability files under test: dashboards, scrape configuration, alert rules. */
    static final Path OBSERVABILITY = Path.of("observability");

    private Tools() {
    }

    /** The absolute path of a Prometheus tool on the PATH, or a failure saying how to get it (never a skip). */
    static String require(String name) {
        return HostTools.require(name, "install Debian's prometheus package, which brings prometheus and promtool"
                + " (.ci/run does: apt-get install prometheus)");
    }
}
