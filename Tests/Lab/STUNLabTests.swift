import Foundation
import Testing

/// STUN against coturn (STUN only) outside a NAT router: the mapped address is the router's.
@Suite(.serialized, .enabled(if: NetworkLab.shouldRun, "needs root, iproute2 and nftables (always required under CI)"))
struct STUNLabTests {
    @Test func theMappedAddressIsTheRoutersWANAddress() throws {
        try NetworkLab.requireAvailable()
        let turnserver = try #require(
            ["/usr/bin/turnserver", "/usr/sbin/turnserver"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "coturn is missing: run .ci/install-deps --test")
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let home = try lab.homeNetwork(miniupnpd: false)
        try lab.start(
            home.wan,
            [
                turnserver, "-n", "--stun-only", "--no-cli", "--no-tls", "--no-dtls", "-L", home.wanAddress,
                "-p", "3478", "--log-file", "stdout", "--simple-log", "--pidfile", "/dev/null",
            ])
        try lab.waitUntilListening(home.wan, 3478, udp: true)
        let (status, out) = try lab.exec(home.lan, [portdoctorBinary, "probe", "stun", home.wanAddress, "--json"])
        #expect(status == 0, "\(out)")
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
        let mapped = try #require(answer["mapped"] as? [String: Any])
        #expect(mapped["ip"] as? String == home.routerWAN)
        let (silent, _) = try lab.exec(home.lan, [portdoctorBinary, "probe", "stun", "\(home.wanAddress):3479"])
        #expect(silent == 1)
    }
}
