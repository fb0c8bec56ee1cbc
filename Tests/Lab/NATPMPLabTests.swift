import Foundation
import Testing

/// NAT-PMP against the real miniupnpd in a router namespace.
@Suite(.serialized, .enabled(if: NetworkLab.shouldRun, "needs root, iproute2 and nftables (always required under CI)"))
struct NATPMPLabTests {
    @Test func externalAddressAndAMappingTheOutsideCanUse() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let home = try lab.homeNetwork(miniupnpd: true)
        let (_, out) = try lab.exec(home.lan, [portdoctorBinary, "probe", "natpmp", "--json"])
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
        #expect(answer["external_address"] as? String == home.routerWAN)
        #expect(answer["gateway"] as? String == home.routerLAN)

        // A listener on the LAN host, the reflector outside: no way in until the mapping exists.
        try lab.listener(home.lan, port: 4242)
        try lab.start(home.wan, [portdoctorBinary, "listen", "--port", "4250", "--per-minute", "100"])
        try lab.waitUntilListening(home.wan, 4250)
        func connectBack() throws -> String? {
            let (_, o) = try lab.exec(
                home.lan,
                [
                    portdoctorBinary, "probe", "reflect", "\(home.wanAddress):4250",
                    "--connect-back", "4242", "--timeout", "2", "--json",
                ])
            let r = try JSONSerialization.jsonObject(with: Data(o.utf8)) as? [String: Any]
            return (r?["connect_back"] as? [String: Any])?["status"] as? String
        }
        #expect(try connectBack() == "refused")
        let (mapped, mapOut) = try lab.exec(
            home.lan, [portdoctorBinary, "probe", "natpmp", "--map", "4242", "--lifetime", "60"])
        #expect(mapped == 0, "\(mapOut)")
        #expect(try connectBack() == "connected")
    }

    @Test func switchedOffIsATimeout() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let home = try lab.homeNetwork(miniupnpd: true, natpmp: false)
        let (status, out) = try lab.exec(home.lan, [portdoctorBinary, "probe", "natpmp", "--json"])
        #expect(status == 1)
        #expect(out.contains("\"status\": \"timeout\""))
    }
}
