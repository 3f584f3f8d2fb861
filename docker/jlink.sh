#!/usr/bin/env bash
# The service's Java runtime: a jlinked JRE of the JDK that runs this script, with the modules the service
# needs, jdk.incubator.vector (the CPU engine's SIMD kernels) and jdk.incubator.foreign (the CUDA backend's
# programmatic dependent launch) among them. The image's build stage runs it, and
# so does DockerImageIT for the image it builds from a jar made outside Docker: one list, tested by the image.
#
# Usage: docker/jlink.sh OUTPUT_DIR
set -euo pipefail
out="${1:?usage: docker/jlink.sh OUTPUT_DIR}"
# java.desktop is there for java.beans (Spring), java.management + jdk.management for the JVM meters on
# /actuator/prometheus, java.naming for logback and Spring's JNDI probes, jdk.unsupported for Netty and JCuda,
# java.sql for Jackson's and Spring's java.sql.Date support, jdk.crypto.ec for TLS to a checkpoint store.
modules="java.base,java.compiler,java.desktop,java.instrument,java.logging,java.management,java.naming"
modules+=",java.net.http,java.prefs,java.scripting,java.security.jgss,java.sql,java.xml,jdk.charsets"
modules+=",jdk.crypto.ec,jdk.incubator.foreign,jdk.incubator.vector,jdk.jfr,jdk.management,jdk.net,jdk.unsupported"
modules+=",jdk.zipfs"
rm -rf "$out"
# AWT's, fonts' and sound's native libraries are left out: nothing here draws.
jlink --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --compress=2 \
    --exclude-files='glob:/java.desktop/lib/**' --output "$out"
"$out/bin/java" --add-modules=jdk.incubator.vector -version 2>&1 | head -1
