import Doctor
import LuaHost
import Testing

/// Behind the provider's NAT (CGNAT, DS-Lite) IPv4 cannot come in; when the pinhole step proved the
/// way in over IPv6 open (the reflector connected back to the stable address), the port-forward
/// step's `cgnat` is a failure only when the other computer has no IPv6 (lib/pinhole.lua's
/// carrier_nat): it passes when the other computer has IPv6, and warns when nothing here tells.
struct CarrierNATIPv6Tests {
    typealias World = SharedStepTests.World

    static let stable = PinholeStepTests.stable

    /// A DS-Lite line: the router's WAN in 100.64.0.0/10 and the IPv4 connect-back silent; the
    /// service on [::]:4242 and (`connectBack`) the reflector's connect-back over IPv6.
    static func dsLite(connectBack: String = "connected") -> World {
        let w = PinholeStepTests.world(connectBack: connectBack)
        w.survey = SharedStepTests.seen([
            "router_wan": "100.64.3.9", "connect_back": "timeout", "reflector_address": "198.51.100.7",
        ])
        return w
    }

    static func run(_ w: World, peer: String, reflector: String? = nil) throws -> [String: Finding] {
        var params = [("program", "portdoctor")]
        if let reflector { params.append(("reflector", reflector)) }
        return try SharedStepTests.run(
            [
                ("listener", "tcp-service/listener.lua"), ("firewall", "tcp-service/firewall.lua"),
                ("pinhole", "tcp-service/pinhole.lua"), ("port-forward", "tcp-service/port-forward.lua"),
            ], world: w, params: params, peer: peer)
    }

    @Test func thePeerWithIPv6PassesWithTheAddressToConnectTo() throws {
        let w = Self.dsLite()
        // The reflector is the other computer itself (no --param reflector), reached at its AAAA.
        w.names["peer.example.net"] = ["2001:db8:99::7", "198.51.100.7"]
        let r = try Self.run(w, peer: "peer.example.net")
        #expect(r["pinhole"]?.status == .pass, "\(r["pinhole"]?.summary ?? "")")
        let f = try #require(r["port-forward"])
        #expect(f.status == .pass, "IPv6 is the way in, and it works: \(f.summary)")
        #expect(f.cause == nil)
        #expect(f.summary.contains("IPv4 cannot come in (carrier-grade NAT"), "\(f.summary)")
        #expect(f.summary.contains("IPv6 works"), "\(f.summary)")
        #expect(f.advice.joined().contains("connects to \(Self.stable)"), "\(f.advice)")
        // A numeric IPv6 peer says so just as well.
        let numeric = try #require(try Self.run(Self.dsLite(), peer: "2001:db8:99::7")["port-forward"])
        #expect(numeric.status == .pass, "\(numeric.summary)")
    }

    @Test func thePeerWithOnlyIPv4KeepsCGNATAsTheCause() throws {
        let w = Self.dsLite()
        // The reflector elsewhere, at an IPv6 address; the other computer's name has only an A record.
        w.names["peer.example.net"] = ["198.51.100.7"]
        let r = try Self.run(w, peer: "peer.example.net", reflector: "[2001:db8:77::1]:4250")
        #expect(r["pinhole"]?.status == .pass, "\(r["pinhole"]?.summary ?? "")")
        let f = try #require(r["port-forward"])
        #expect(f.status == .fail, "\(f.summary)")
        #expect(f.cause == "cgnat")
        #expect(f.summary.contains("only IPv4"), "\(f.summary)")
        #expect(f.advice.first?.contains("if the other computer gets IPv6") == true, "\(f.advice)")
    }

    @Test func whetherThePeerHasIPv6UnknownWarnsAndSaysWhatToCheck() throws {
        let w = Self.dsLite()
        let r = try Self.run(w, peer: "198.51.100.7", reflector: "[2001:db8:77::1]:4250")
        let f = try #require(r["port-forward"])
        #expect(f.status == .warn, "\(f.summary)")
        #expect(f.cause == "cgnat")
        #expect(f.summary.contains("unknown"), "\(f.summary)")
        #expect(f.advice.first?.contains("Check that the other computer has IPv6") == true, "\(f.advice)")
    }

    @Test func withoutAProvenWayInOverIPv6CGNATFailsAsBefore() throws {
        // The reflector's connect-back over IPv6 got no answer: the pinhole step says why, and
        // IPv4's absence still fails, whatever the other computer has.
        let w = Self.dsLite(connectBack: "timeout")
        w.names["peer.example.net"] = ["2001:db8:99::7", "198.51.100.7"]
        let f = try #require(try Self.run(w, peer: "peer.example.net")["port-forward"])
        #expect(f.status == .fail, "\(f.summary)")
        #expect(f.cause == "cgnat")
    }
}
