#!/usr/bin/env bash
# Builds the GPU test bundle: .bundle/dms-gpu-tests/ and .bundle/dms-gpu-tests.tar.xz, everything the GPU host
# (CUDA driver, nvcc, python3; no Java, no Maven, no network) needs to run the gpu-tagged tests:
#   jre/           a jlinked Java 17 runtime made from this machine's JDK
#   lib/           the runtime + test classpath jars, other platforms' native libraries removed, stored
#                  uncompressed so that xz compresses their classes (JCuda natives: libJCudaDriver only)
#   classes/ test-classes/   compiled main and test code with resources; classes/native/dms-kernels.fatbin
#   junit/         junit-platform-console-standalone, the version of the project's JUnit
#   native/        the kernel sources and their native test driver (run-native-tests.sh builds it with nvcc)
#   run-gpu-tests.sh OUT [console launcher selection...]    the gpu-tagged tests; reports in OUT
#   run-native-tests.sh OUT [test names...]                 native/test/kernel_test.cu on the GPU
#   the other scripts of tools/gpu (run-per-class.sh, bench-run.sh, ab-run.sh, ...); they take the tokenizer and the
#   checkpoint maker from the checkout named by REPO
# Left out (about 70 MB): the OpenAI client libraries of the serving integration tests and those tests
# (src/test/java/io/dmsserve/clients: they need a running server and Node), ArchUnit, the JSON Schema validator,
# Selenium, Testcontainers and the chart libraries with the tests that use them, Mockito and byte-buddy (no test uses
# them), HTTP/3's native QUIC library (the service does not speak HTTP/3), AWT's native libraries.
#
# Usage: tools/gpu/bundle.sh [--no-build]    (without --no-build it runs ./mvnw -DskipTests test-compile first;
# nvcc must be on the PATH so that the fatbin is built)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
name=dms-gpu-tests
out=".bundle/$name"
archive=".bundle/$name.tar.xz"

if [[ "${1:-}" != "--no-build" ]]; then
    ./mvnw -B -q -DskipTests test-compile
fi
if [[ ! -f target/classes/native/dms-kernels.fatbin ]]; then
    echo "bundle: target/classes/native/dms-kernels.fatbin is missing: build with nvcc on the PATH" >&2
    cat target/classes/native/dms-kernels.unavailable 2>/dev/null >&2 || true
    exit 1
fi
rm -rf "$out" "$archive"
mkdir -p "$out/lib" "$out/junit"

echo "bundle: classpath"
# The test classpath without the OpenAI client libraries (a copy of the pom without those two dependencies).
python3 - pom.xml target/gpu-bundle-pom.xml <<'PY'
import re, sys
pom = open(sys.argv[1]).read()
# Test-only libraries no gpu test uses (client libraries, architecture rules, schema validation, browsers,
# containers, charts): left out with the test classes that use them (below). Each must be in the pom.
for artifact in ("spring-ai-openai", "langchain4j-open-ai", "archunit", "json-schema-validator"):
    pom, count = re.subn(r"\s*<dependency>\s*(?:<!--(?:(?!-->).)*-->\s*)?<groupId>[^<]*</groupId>\s*<artifactId>%s</artifactId>.*?</dependency>"
                         % re.escape(artifact), "", pom, flags=re.S)
    if count != 1:
        sys.exit("bundle: dependency %s not found once in pom.xml" % artifact)
for artifact in ("selenium-java", "testcontainers", "junit-jupiter-testcontainers", "testcontainers-junit-jupiter",
                 "helm-java", "kubernetes-model", "kubernetes-client-api", "kubernetes-client",
                 "openshift-model-monitoring"):
    pom = re.sub(r"\s*<dependency>\s*(?:<!--(?:(?!-->).)*-->\s*)?<groupId>[^<]*</groupId>\s*<artifactId>%s</artifactId>.*?</dependency>"
                 % re.escape(artifact), "", pom, flags=re.S)
open(sys.argv[2], "w").write(pom)
PY
./mvnw -B -q -f target/gpu-bundle-pom.xml dependency:build-classpath -Dmdep.includeScope=test \
    -Dmdep.outputFile="$root/target/gpu-bundle-classpath.txt" -Dmdep.pathSeparator=:
junit="$(./mvnw -B -q help:evaluate -Dexpression=junit-jupiter.version -DforceStdout)"
./mvnw -B -q dependency:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:$junit:jar" \
    -DoutputDirectory="$root/$out/junit"
python3 tools/gpu/strip_jar.py "$out/junit/junit-platform-console-standalone-$junit.jar" \
    "$out/junit/junit-platform-console-standalone.jar"
rm "$out/junit/junit-platform-console-standalone-$junit.jar"

# JUnit itself comes with the console launcher (same version); two copies would register each engine twice.
# Mockito (with its agent and objenesis) comes with spring-boot-starter-test, but no test uses it; byte-buddy serves
# AssertJ's soft assertions and assumptions only, which no test uses either (checked: the runner passes a
# Spring Boot test, the CPU golden tests and the CUDA layer's plain tests without it).
# The QUIC native library is HTTP/3's transport, which the service does not use (netty then reports QUIC as
# unavailable); the other platforms' QUIC and DNS natives go with the rest of the foreign native libraries. HTTP/3's
# codec and QUIC's classes go with it; the configuration processor runs in javac only; commons-compress serves DJL's
# archive downloads (the tokenizer's native library is read from its jar without it).
{ tr ':' '\n' < target/gpu-bundle-classpath.txt; echo; } | while read -r jar; do
    [[ -n "$jar" ]] || continue
    base="$(basename "$jar")"
    case "$base" in
        junit-jupiter*|junit-platform*|opentest4j-*|apiguardian-api-*) continue ;;
        mockito-*|byte-buddy-*|objenesis-*|netty-codec-native-quic-*) continue ;;
        netty-codec-http3-*|netty-codec-classes-quic-*|spring-boot-configuration-processor-*) continue ;;
        commons-compress-*) continue ;;
    esac
    status=0
    python3 tools/gpu/strip_jar.py "$jar" "$out/lib/$base" || status=$?
    if [[ $status -ne 0 && $status -ne 3 ]]; then
        echo "bundle: cannot copy $jar" >&2
        exit 1
    fi
done

echo "bundle: classes"
cp -r target/classes "$out/classes"
cp -r target/test-classes "$out/test-classes"
# The GPU host is an H200: the bundle's kernels are the sm_90a code alone (native/build.sh with its checks; the sm_80
# cubin and PTX weigh 1.3 MB of the archive).
echo "bundle: sm_90a fatbin"
rm "$out/classes/native/dms-kernels.fatbin"
DMS_KERNEL_TARGETS=sm_90a native/build.sh "$out/classes/native" target/bundle-native-build > /dev/null
# The Qwen3 tokenizer (11 MB, 1.4 MB of the archive) is in the working tree that every device call carries:
# run-gpu-tests.sh links it from $REPO.
rm "$out/test-classes/golden/qwen3-tokenizer/tokenizer.json"
rm -rf "$out/test-classes/io/dmsserve/clients"
# Test classes that name a left-out library (and their nested classes) go too, so that discovery loads every class.
for package in com/tngtech/archunit com/networknt org/openqa/selenium org/testcontainers com/marcnuri io/fabric8 \
    org/springframework/ai dev/langchain4j; do
    grep -rlF --include='*.class' "$package/" "$out/test-classes" 2>/dev/null || true
done | sed 's/\(\$[^/]*\)\?\.class$//' | sort -u | while read -r stem; do
    rm -f "$stem.class" "$stem"\$*.class
    echo "  left out: ${stem#$out/test-classes/}"
done
# Tests open their fixtures as src/test/resources/... from the working directory: the runner works in the bundle.
mkdir -p "$out/src/test"
ln -s ../../test-classes "$out/src/test/resources"
mkdir -p "$out/native"
git ls-files native | grep -v '^native/build.sh$' | tar -cf - -T - | tar -C "$out" -xf -
cp target/native-build/registers.txt "$out/native/registers.txt" 2>/dev/null || true

echo "bundle: jre"
# Modules: jdeps of the project's classes and of every jar, plus what reflection and agents need.
modules="java.base,java.compiler,java.desktop,java.instrument,java.logging,java.management,java.naming"
modules+=",java.net.http,java.prefs,java.scripting,java.sql,java.xml,jdk.jfr,jdk.management,jdk.unsupported"
modules+=",jdk.incubator.vector,jdk.crypto.ec,jdk.attach,jdk.zipfs,jdk.net,jdk.naming.dns,java.security.jgss"
modules+=",java.security.sasl,java.transaction.xa,java.rmi,java.management.rmi,jdk.httpserver,jdk.charsets"
modules+=",jdk.management.agent,jdk.incubator.foreign"
found="$(jdeps --multi-release 17 --ignore-missing-deps --print-module-deps -q \
    --class-path "$(cat target/gpu-bundle-classpath.txt)" target/classes target/test-classes 2>/dev/null || true)"
for jar in "$out"/lib/*.jar; do
    found+=",$(jdeps --multi-release 17 --ignore-missing-deps --print-module-deps -q "$jar" 2>/dev/null || true)"
done
modules="$(echo "$modules,$found" | tr ',' '\n' | grep -v '^$' | sort -u | paste -sd, -)"
echo "bundle: jlink --add-modules $modules"
# Uncompressed modules: the archive's xz does better than jlink's zip. java.desktop is there for java.beans
# (Spring); its native libraries (AWT, fonts, sound, images) are left out: nothing here draws.
jlink --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --compress=0 \
    --strip-native-debug-symbols=objcopy="$(command -v objcopy)" --exclude-files='glob:/java.desktop/lib/**' \
    --output "$out/jre"
# jlink strips the debug sections; the symbol tables stay (0.8 MB of the archive): a crash report names fewer frames.
find "$out/jre" -name '*.so' -exec strip --strip-unneeded {} +

# Every script of tools/gpu (the runners above, run-per-class.sh, the benchmarks and profiles its README lists, their
# Python peers): a few hundred KB, so that the commands of the README and of tools/gpu/README.md run from the bundle.
cp tools/gpu/*.sh tools/gpu/*.py "$out/"
chmod +x "$out"/*.sh
{
    echo "commit=$(git rev-parse HEAD)$(git diff --quiet HEAD -- native src pom.xml tools/gpu || echo '+uncommitted')"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n)"
    echo "java=$("$out/jre/bin/java" -version 2>&1 | head -1)"
    echo "junit=$junit"
    cat target/classes/native/dms-kernels.properties 2>/dev/null | sed 's/^/fatbin./'
} > "$out/BUILD-INFO"

echo "bundle: compressing"
# One xz block with a dictionary larger than the tar, so that classes repeated across jars are found.
tar -C .bundle --sort=name -cf - "$name" | xz -9e -T1 --lzma2=preset=9e,dict=256MiB > "$archive"
bytes="$(stat -c %s "$archive")"
printf 'bundle: %s is %.1f MB (%d bytes); unpacked %s\n' "$archive" "$(echo "$bytes / 1000000" | bc -l)" "$bytes" \
    "$(du -sh "$out" | cut -f1)"
if (( bytes > 64 * 1024 * 1024 )); then
    echo "bundle: over the 64 MiB an upload may carry" >&2
    exit 1
fi
if (( bytes > 40 * 1000 * 1000 )); then
    echo "bundle: warning: over the 40 MB target" >&2
fi
