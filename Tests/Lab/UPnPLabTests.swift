import Foundation
import Testing

/// UPnP IGD against the real miniupnpd in a router namespace.
@Suite(.serialized, .enabled(if: NetworkLab.shouldRun, "needs root, iproute2 and nftables (always required under CI)"))
struct UPnPLabTests {
    func upnp(_ lab: NetworkLab, _ home: NetworkLab.HomeNetwork, _ args: [String]) throws -> [String: Any] {
        let (_, out) = try lab.exec(home.lan, [portdoctorBinary, "probe", "upnp", "--json"] + args)
        return try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
    }

    @Test func discoverLookUpAddAndDeleteAForward() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let home = try lab.homeNetwork(miniupnpd: true, manufacturer: "OpenWrt")
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
            return
                ((try JSONSerialization.jsonObject(with: Data(o.utf8)) as? [String: Any])?["connect_back"]
                as? [String: Any])?["status"] as? String
        }

        let found = try upnp(lab, home, ["--port", "4242"])
        let gateway = try #require(found["gateway"] as? [String: Any], "\(found)")
        #expect(gateway["manufacturer"] as? String == "OpenWrt")
        #expect((gateway["service_type"] as? String)?.contains("WANIPConnection") == true)
        #expect(found["external_address"] as? String == home.routerWAN)
        #expect(found["mapping"] == nil)
        #expect((found["error"] as? String)?.contains("UPnP error 714: no such port mapping") == true, "\(found)")
        #expect(try connectBack() == "refused")

        let added = try upnp(lab, home, ["--add", "4242", "--port", "4242"])
        #expect((added["change"] as? String)?.hasPrefix("added: TCP 4242 → \(home.lanAddress)") == true, "\(added)")
        let mapping = try #require(added["mapping"] as? [String: Any])
        #expect(mapping["internal_client"] as? String == home.lanAddress)
        #expect(try connectBack() == "connected")
        let table = try upnp(lab, home, ["--list"])
        #expect((table["mappings"] as? [[String: Any]])?.count == 1)

        let deleted = try upnp(lab, home, ["--delete", "4242"])
        #expect(deleted["change"] as? String == "deleted: TCP 4242")
        #expect(try connectBack() == "refused")
    }

    @Test func upnpSwitchedOffIsNamed() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let home = try lab.homeNetwork(miniupnpd: true, upnp: false)
        let (status, out) = try lab.exec(home.lan, [portdoctorBinary, "probe", "upnp", "--json", "--wait", "1"])
        #expect(status == 1)
        #expect(out.contains("no UPnP gateway answered"))
    }
}
