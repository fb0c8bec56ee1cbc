// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "portdoctor",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "portdoctor", targets: ["portdoctor"]),
        .library(name: "LuaHost", targets: ["LuaHost"]),
        // For Fuzz/ (a separate package, so the fuzz targets stay out of the normal build).
        .library(name: "Probes", targets: ["Probes"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Ed25519 and SHA-256 for signed packs; HKDF and HMAC for the paired diagnosis.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // `--trace`: primitive calls go through swift-log, so that a handler can route them.
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // liblua5.4 from the system (Debian: liblua5.4-dev).
        .systemLibrary(
            name: "CLua",
            pkgConfig: "lua5.4",
            providers: [.apt(["liblua5.4-dev"]), .brew(["lua"])]
        ),
        // The only code allowed to raise Lua errors or yield: Swift frames must never be longjmp'd over.
        .target(name: "LuaShim", dependencies: ["CLua"]),
        // The single-threaded event loop (timers, fd readiness, posts from other threads).
        .target(name: "Reactor"),
        .target(name: "LuaHost", dependencies: ["CLua", "LuaShim", "Reactor"]),
        // Primitives: sockets, the socket table… Plain Swift, no Lua.
        .target(
            name: "Probes", dependencies: ["Reactor", .product(name: "Crypto", package: "swift-crypto")]),
        // The Lua modules checks call (socket, netstat, firewall, service, upnp…): primitives bound to
        // Lua, and the one encoder per observation (the Lua table, `probe --format json`, the evidence).
        .target(name: "Bindings", dependencies: ["LuaHost", "Probes", "Reactor"]),
        .target(
            name: "Doctor",
            dependencies: [
                "LuaHost", "Probes", "Bindings", "BundledChecks", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // Checks/ compiled into the binary.
        .executableTarget(name: "CheckEmbedder"),
        .plugin(name: "EmbedChecks", capability: .buildTool(), dependencies: ["CheckEmbedder"]),
        .target(name: "BundledChecks", plugins: ["EmbedChecks"]),
        .executableTarget(
            name: "portdoctor",
            dependencies: [
                "LuaHost",
                "Doctor",
                "Bindings",
                "Probes",
                "Reactor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "LuaHostTests", dependencies: ["LuaHost", "CLua", "LuaShim"]),
        .testTarget(
            name: "DoctorTests",
            dependencies: ["Doctor", "LuaHost", "BundledChecks", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "ProbesTests", dependencies: ["Probes", "Reactor", "TestSupport"], resources: [.copy("Fixtures")]),
        // Finds the release binary that the CLI and lab tests run (`swift build -c release` first).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        // Runs the real release binary: exit codes, formats, usage errors.
        .testTarget(name: "portdoctorTests", dependencies: ["TestSupport"]),
        // The network lab: namespaces, veth, nftables (root only; required under CI), on the release binary.
        .testTarget(
            name: "LabTests", dependencies: ["TestSupport"], path: "Tests/Lab", exclude: ["bench-diagnosis.sh"]),
    ],
    swiftLanguageModes: [.v6]
)
