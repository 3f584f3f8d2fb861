#!/usr/bin/env python3
"""Copies a jar for the GPU bundle: other platforms' native libraries removed, every entry stored uncompressed
(so that the bundle's xz compresses the classes across jars). Usage: strip_jar.py IN.jar OUT.jar
Prints what was dropped. Exit 3 when the whole jar is another platform's (the caller skips it)."""
import os
import re
import sys
import zipfile

NATIVE = re.compile(r"\.(so(\.\d+)*|dll|dylib|jnilib|a)$")
OTHER_PLATFORM = re.compile(r"(aarch|arm|ppc|s390|riscv|mips|loongarch|osx|macos|darwin|mac-|win32|windows|win-|freebsd|"
                            r"bsd|sunos|solaris|aix|i386|x86-32|linux-x86/|linux-x86$)", re.I)
THIS_PLATFORM = re.compile(r"(x86_64|x86-64|amd64)", re.I)
SIGNATURE = re.compile(r"^META-INF/[^/]+\.(SF|RSA|DSA|EC)$")
# A classifier after the version naming another platform: netty-codec-native-quic-4.2.15.Final-osx-x86_64.jar
PLATFORM_JAR = re.compile(r"-\d+(\.\d+)*(\.\w+)?-(osx|windows|linux-aarch_64|linux-aarch64|linux-riscv64|linux-ppcle_64)"
                          r"[-_.\w]*\.jar$")


def keep(jar_name, entry):
    if SIGNATURE.match(entry):
        return False
    if not NATIVE.search(entry):
        return True
    if jar_name.startswith("jcuda-natives"):
        return os.path.basename(entry).startswith("libJCudaDriver-")  # DESIGN.md §5: only the driver binding
    # Keep a native library only when its path names this platform (x86-64) and no other.
    return entry.endswith(".so") and bool(THIS_PLATFORM.search(entry)) and not OTHER_PLATFORM.search(entry)


def main(src, dst):
    name = os.path.basename(src)
    if PLATFORM_JAR.search(name):
        print(f"  dropped {name} (another platform's natives)")
        return 3
    dropped = []
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            if not keep(name, info.filename):
                dropped.append(info.filename)
                continue
            out = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            out.external_attr = info.external_attr
            out.compress_type = zipfile.ZIP_STORED
            zout.writestr(out, zin.read(info.filename))
    natives = [d for d in dropped if NATIVE.search(d)]
    if natives:
        print(f"  {name}: dropped {len(natives)} native libraries of other platforms/uses")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
