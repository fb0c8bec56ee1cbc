import Foundation
import Testing

/// The firewall check and its repair through the whole engine: `portdoctor run` inside a server
/// namespace whose ruleset drops the port, without and then with `--fix --yes`.
@Suite(.serialized, .enabled(if: NetworkLab.shouldRun, "needs root, iproute2 and nftables (always required under CI)"))
struct FirewallRepairLabTests {
    static let pack: [String: String] = [
        "pack.lua": """
        return pack { id = "fw", version = "1", title = "Firewall", steps = { "inbound" },
                      params = { port = { type = "port", default = 4242, doc = "the port" } } }
        """,
        "inbound.lua": """
        return check {
          title = "The firewall lets the port in",
          repairs = {
            ["open-port"] = {
              title = "Open the port in the firewall", changes = "adds an accept rule for the port", privileged = true,
              apply = function(ctx)
                local ok, what = firewall.open { port = ctx.params.port, direction = "in" }
                if not ok then return false, what end
              end,
            },
          },
          run = function(ctx)
            local v = firewall.check { port = ctx.params.port, direction = "in" }
            if v.decision == "allow" then return pass("let in (%s)", v.rule or v.tool) end
            if v.decision == "unknown" then return warn { summary = "cannot tell: " .. (v.note or "?") } end
            return fail { summary = "incoming TCP " .. ctx.params.port .. " is " .. v.decision .. "ped by " .. v.tool,
                          cause = "firewall-blocks-inbound", advice = { v.fix }, evidence = v, repairs = { "open-port" } }
          end,
        }
        """,
    ]

    @Test func theRepairOpensThePortAndTheCheckPassesAgain() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pd-fw-\(UUID().uuidString)/fw")
        for (name, text) in Self.pack {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let client = try lab.namespace("c")
        let server = try lab.namespace("s")
        try lab.link(client, "10.231.30.1/24", server, "10.231.30.2/24")
        try lab.nft(
            server,
            "table inet filter {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    tcp dport 4242 drop\n  }\n}\n"
        )
        try lab.listener(server, port: 4242)
        try lab.waitUntilListening(server, 4242)

        let before = try lab.exec(server, [portdoctorBinary, "run", dir.path, "--format", "json"])
        #expect(before.status == 1)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(before.output.utf8)) as? [String: Any])
        let check = try #require((report["checks"] as? [[String: Any]])?.first)
        #expect(check["cause"] as? String == "firewall-blocks-inbound")
        #expect((check["summary"] as? String)?.contains("dropped by nftables") == true)
        #expect(((check["repairs"] as? [[String: Any]])?.first?["outcome"]) as? String == "offered")
        #expect(
            try lab.exec(client, [portdoctorBinary, "probe", "connect", "10.231.30.2", "4242", "--timeout", "1"]).status
                == 1)

        let fixed = try lab.exec(server, [portdoctorBinary, "run", dir.path, "--fix", "--yes", "--format", "json"])
        #expect(fixed.status == 0, "\(fixed.output)")
        let after = try #require(try JSONSerialization.jsonObject(with: Data(fixed.output.utf8)) as? [String: Any])
        let repaired = try #require((after["checks"] as? [[String: Any]])?.first)
        #expect(repaired["status"] as? String == "pass")
        #expect(((repaired["repairs"] as? [[String: Any]])?.first?["outcome"]) as? String == "fixed")
        // And for real: the other computer can connect now.
        #expect(
            try lab.exec(client, [portdoctorBinary, "probe", "connect", "10.231.30.2", "4242", "--timeout", "1"]).status
                == 0)
    }
}
