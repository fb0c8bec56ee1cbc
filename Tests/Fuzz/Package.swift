// swift-tools-version: 6.0
// libFuzzer targets for portdoctor's parsers: a package of its own so `swift build` and
// `swift test` at the root never build them. Run with Tests/Fuzz/run.sh.
import PackageDescription

let package = Package(
    name: "portdoctor-fuzz",
    dependencies: [.package(name: "portdoctor", path: "../..")],
    targets: [
        // Targets/ links Tests/ProbesTests/FuzzTargets: FuzzRegressionTests replays with the same code.
        .executableTarget(
            name: "PortdoctorFuzz",
            dependencies: [.product(name: "Probes", package: "portdoctor")]
        )
    ],
    swiftLanguageModes: [.v6]
)
