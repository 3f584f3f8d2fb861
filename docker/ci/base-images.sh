#!/usr/bin/env bash
# Makes the base image the CI build of the dms-serve image starts from, where no image registry is reachable:
# Debian bookworm (minbase) debootstrapped from this machine's configured Debian mirror, with curl for the
# image's HEALTHCHECK, then `docker import`ed. DockerImageIT passes it as RUNTIME_BASE. An image that is already
# there is kept (a CI machine that comes back reuses it), so the cost is paid once per machine.
#
# With --jdk it makes a build base instead (the same plus openjdk-17-jdk-headless: Maven and jlink), with which
# the Dockerfile's own build stage runs without a registry (docs/deploy.md); CI does not use it.
#
# Usage: docker/ci/base-images.sh [--jdk] [--force]     (root; needs debootstrap and a running Docker engine)
set -euo pipefail

image="${DMS_CI_RUNTIME_BASE:-dms-serve-ci/runtime-base:bookworm}"
packages="curl"
force=""
for arg in "$@"; do
    case "$arg" in
        --jdk) image="${DMS_CI_JDK_BASE:-dms-serve-ci/jdk-base:bookworm}"; packages="curl,ca-certificates,openjdk-17-jdk-headless,binutils" ;;
        --force) force=1 ;;
        *) echo "usage: $0 [--jdk] [--force]" >&2; exit 2 ;;
    esac
done
if [[ -z "$force" ]] && docker image inspect "$image" >/dev/null 2>&1; then
    echo "base-images: $image is there"
    exit 0
fi

# The mirror apt already uses (deb822 sources first, then the one-line format); Debian's own as a last resort.
mirror="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
if [[ -z "$mirror" ]]; then
    mirror="$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

root="$(mktemp -d /var/tmp/dms-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "base-images: debootstrap bookworm ($packages) from $mirror for $image"
start=$SECONDS
# minbase: essential + apt; curl is what the HEALTHCHECK calls. The jlinked JRE needs only libc, libz and
# libstdc++/libgcc (the tokenizer's native library), all in minbase.
debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" > "$root.log" 2>&1 \
    || { tail -30 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
# What a container never uses: package lists and caches, documentation, locales but C.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log
find "$root"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +
tar -C "$root" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "base-images: $image made in $((SECONDS - start)) s, $(docker image inspect -f '{{.Size}}' "$image") bytes"
