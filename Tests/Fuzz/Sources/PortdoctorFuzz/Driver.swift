// One binary for every target: `PortdoctorFuzz <target> [libFuzzer options] [corpus dirs]`.
// SwiftPM links an executable's entry point as `<Module>_main` (it defines `main` as that
// symbol), so libFuzzer's own main cannot be used; libFuzzer's documented LLVMFuzzerRunDriver
// is called from here instead, with the target's function as the callback.
#if canImport(Glibc)
    import Glibc
#endif

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// Chosen once, before the driver starts; read-only afterwards.
nonisolated(unsafe) var selected: FuzzTarget?

@_cdecl("PortdoctorFuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    let names = FuzzTargets.all.map(\.name).joined(separator: " ")
    guard argc >= 2, let argv, let name = argv[1].map({ String(cString: $0) }) else {
        print("usage: PortdoctorFuzz <target> [libFuzzer options] [corpus...]\ntargets: \(names)")
        return 2
    }
    if name == "--list" {
        print(names)
        return 0
    }
    guard let target = FuzzTargets.named(name) else {
        print("no fuzz target '\(name)'; targets: \(names)")
        return 2
    }
    selected = target
    // libFuzzer sees argv without the target name.
    argv[1] = argv[0]
    var count = argc - 1
    var rest: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv + 1
    return LLVMFuzzerRunDriver(&count, &rest) { data, size in
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        do {
            try selected?.run(bytes)
        } catch {
            // An invariant broke: crash, so libFuzzer keeps the input as a finding.
            fatalError("\(selected?.name ?? "?"): \(error)")
        }
        return 0
    }
}
