#!/usr/bin/env bash
# Compiles the CUDA kernels (native/all.cu, which includes every native/*.cu) into one fatbin:
#   native/build.sh CLASSES_NATIVE_DIR [BUILD_DIR]
# Maven runs it (profile cuda-kernels, phase generate-resources) with target/classes/native and
# target/native-build. nvcc is taken from $NVCC, else from the PATH. Without nvcc it writes
# dms-kernels.unavailable (the reason the CUDA backend reports) and succeeds; with nvcc a failed compile
# fails. The fatbin is rebuilt only when a native source is newer than it.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: native/build.sh OUT_DIR [BUILD_DIR]}"
build="${2:-$out}"
mkdir -p "$out" "$build"
fatbin="$out/dms-kernels.fatbin"
marker="$out/dms-kernels.unavailable"
nvcc="${NVCC:-$(command -v nvcc || true)}"
if [[ -z "$nvcc" ]]; then
    rm -f "$fatbin" "$out/dms-kernels.properties"
    echo "kernels not built: nvcc was not on the PATH at build time" > "$marker"
    echo "[cuda-kernels] nvcc not on the PATH: $fatbin not built (the CUDA backend will say so)"
    exit 0
fi
if [[ -f "$fatbin" && -z "$(find native -name '*.cu' -newer "$fatbin" -o -name '*.cuh' -newer "$fatbin" \
        -o -name build.sh -newer "$fatbin")" ]]; then
    echo "[cuda-kernels] $fatbin is up to date"
    rm -f "$marker"
    exit 0
fi
# DMS_KERNEL_TARGETS=sm_90a: the sm_90a code alone (the GPU test bundle's, tools/gpu/bundle.sh: the host is an H200);
# the default, all, adds sm_80 and its PTX.
case "${DMS_KERNEL_TARGETS:-all}" in
    all) archs=(-gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_80,code=[sm_80,compute_80])
         targets=sm_90a,sm_80,compute_80 ;;
    sm_90a) archs=(-gencode=arch=compute_90a,code=sm_90a)
            targets=sm_90a ;;
    *) echo "[cuda-kernels] DMS_KERNEL_TARGETS must be all or sm_90a, got '$DMS_KERNEL_TARGETS'" >&2
       exit 1 ;;
esac
echo "[cuda-kernels] $nvcc -fatbin ${archs[*]} native/all.cu"
if ! "$nvcc" -fatbin -O3 -std=c++17 "${archs[@]}" -Xptxas -v -o "$fatbin.tmp" native/all.cu \
        > "$build/ptxas.log" 2>&1; then
    cat "$build/ptxas.log" >&2
    rm -f "$fatbin.tmp"
    exit 1
fi
# Every kernel has the programmatic-launch wait (dms.cuh, pdl_wait): Java may launch any of them so. Checked on
# the sm_90a PTX, where the wait is compiled in; a kernel without it fails the build.
if ! "$nvcc" -ptx -O3 -std=c++17 -arch=sm_90a -o "$build/all-sm90a.ptx" native/all.cu > "$build/ptx.log" 2>&1; then
    cat "$build/ptx.log" >&2
    rm -f "$fatbin.tmp"
    exit 1
fi
missing="$(awk '/\.entry / { if (name != "" && !seen) print name; match($0, /\.entry [A-Za-z0-9_]+/);
                              name = substr($0, RSTART + 7, RLENGTH - 7); seen = 0 }
               /griddepcontrol\.wait/ { seen = 1 }
               END { if (name != "" && !seen) print name }' "$build/all-sm90a.ptx")"
# The trigger setting CudaContext writes by name (cuModuleGetGlobal): an unmangled global.
grep -q '^\.global .* dms_pdl_trigger_at' "$build/all-sm90a.ptx" || missing+=" (no global dms_pdl_trigger_at)"
if [[ -n "$missing" ]]; then
    echo "[cuda-kernels] kernels without griddepcontrol.wait (dms::pdl_wait at their start, dms.cuh):" >&2
    echo "$missing" >&2
    rm -f "$fatbin.tmp"
    exit 1
fi
mv "$fatbin.tmp" "$fatbin"
rm -f "$marker"
{
    echo "nvcc=$("$nvcc" --version | tail -1)"
    echo "targets=$targets"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} > "$out/dms-kernels.properties"
# Registers and spills per kernel and target, for the record (native/README.md).
awk '/Compiling entry function/ { match($0, /'"'"'[A-Za-z0-9_]+'"'"'/); f = substr($0, RSTART + 1, RLENGTH - 2);
                                  match($0, /for '"'"'sm_[0-9a]+'"'"'/); a = substr($0, RSTART + 5, RLENGTH - 6) }
     /bytes stack frame/ { s = $0 }
     /Used [0-9]+ registers/ && f != "" { match($0, /Used [0-9]+ registers/); printf "%-32s %-6s %-16s %s\n", f, a,
                                           substr($0, RSTART + 5, RLENGTH - 5), s; f = "" }' "$build/ptxas.log" \
    | sort > "$build/registers.txt"
echo "[cuda-kernels] built $fatbin ($(stat -c %s "$fatbin") bytes); registers: $build/registers.txt"
