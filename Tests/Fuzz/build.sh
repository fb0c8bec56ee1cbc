#!/usr/bin/env bash
# Builds Tests/Fuzz/.build/release/PortdoctorFuzz with libFuzzer coverage and AddressSanitizer.
# -sanitize=fuzzer would link libFuzzer's main, which clashes with SwiftPM's entry point; so the
# coverage instrumentation is asked for directly and libFuzzer is linked without its main.
set -euo pipefail
cd "$(dirname "$0")"
swiftc=$(command -v swiftc)
rt=$(dirname "$(dirname "$swiftc")")/lib/clang
fuzzer=$(find -L "$rt" -name 'libclang_rt.fuzzer_no_main-*.a' | head -1)
[ -n "$fuzzer" ] || { echo "no libclang_rt.fuzzer_no_main in $rt: this toolchain cannot build the fuzz targets" >&2; exit 2; }
exec swift build -c release \
    -Xswiftc -sanitize=address \
    -Xswiftc -sanitize-coverage=edge,trace-cmp,pc-table,inline-8bit-counters \
    -Xswiftc -enable-testing \
    -Xlinker "$fuzzer" -Xlinker -lstdc++ "$@"
