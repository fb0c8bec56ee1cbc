import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One schema per observation: what `probe … --format json` prints, the table a check gets from the
/// module, and the evidence the report holds when the check returns that table have the same keys
/// and types. Each observation is taken by the release binary both ways against the same loopback
/// listener; the check describes its tables from inside Lua (where a drift in the binding would show).
@Suite struct ObservationShapeTests {
    /// Every leaf as `path:type` (`[]` for an element of a list, `empty` for an empty table), sorted:
    /// the same description as the Lua function `shape` below, so the two can be compared as text.
    indirect enum Shape: Decodable {
        case object([String: Shape]), array([Shape]), string, number, boolean, null

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() {
                self = .null
            } else if (try? c.decode(Bool.self)) != nil {
                self = .boolean
            } else if (try? c.decode(Double.self)) != nil {
                self = .number
            } else if (try? c.decode(String.self)) != nil {
                self = .string
            } else if let a = try? c.decode([Shape].self) {
                self = .array(a)
            } else {
                self = .object(try c.decode([String: Shape].self))
            }
        }

        func paths(_ prefix: String = "", into out: inout Set<String>) {
            switch self {
            case .object(let o) where o.isEmpty: out.insert(prefix + ":empty")
            case .array(let a) where a.isEmpty: out.insert(prefix + ":empty")
            case .object(let o): for (k, v) in o { v.paths(prefix + "." + k, into: &out) }
            case .array(let a): for v in a { v.paths(prefix + "[]", into: &out) }
            case .string: out.insert(prefix + ":string")
            case .number: out.insert(prefix + ":number")
            case .boolean: out.insert(prefix + ":boolean")
            // Lua has no null: a key with nothing to say is absent there, so it must be absent here too.
            case .null: out.insert(prefix + ":null")
            }
        }

        var description: String {
            var out = Set<String>()
            paths(into: &out)
            return out.sorted().joined(separator: "\n")
        }
    }

    static let shapeFunction = """
        local function paths(v, prefix, out)
          if type(v) ~= "table" then out[#out + 1] = prefix .. ":" .. type(v) return end
          if next(v) == nil then out[#out + 1] = prefix .. ":empty" return end
          if v[1] ~= nil then
            for _, e in ipairs(v) do paths(e, prefix .. "[]", out) end
          else
            for k, e in pairs(v) do paths(e, prefix .. "." .. k, out) end
          end
        end
        local function shape(v)
          local out, seen, unique = {}, {}, {}
          paths(v, "", out)
          for _, p in ipairs(out) do if not seen[p] then seen[p] = true unique[#unique + 1] = p end end
          table.sort(unique)
          return table.concat(unique, "\\n")
        end
        """

    @Test func probeJSONLuaTableAndEvidenceAgree() throws {
        let cli = CommandLineTests()
        let listener = try Loopback.tcpListener()
        defer { close(listener.fd) }
        let port = String(listener.port)

        // name → (the probe command, the Lua expression a check calls for the same observation)
        var observations: [(String, [String], String)] = [
            ("connect", ["connect", "127.0.0.1", port], "socket.connect('127.0.0.1', \(port))"),
            ("bind", ["bind", port, "--address", "127.0.0.1"], "socket.bind_test(\(port), '127.0.0.1')"),
            ("listeners", ["netstat", "--port", port, "--state", "LISTEN", "--proto", "tcp"],
             "netstat.listeners(\(port), 'tcp')"),
            ("addresses", ["addresses"], "host.addresses()"),
            ("firewall", ["firewall", "--port", port], "firewall.check { port = \(port) }"),
            // IPv6 adds `neighbour_discovery` (where the rules can be read).
            ("firewall6", ["firewall", "--port", port, "--family", "ipv6"],
             "firewall.check { port = \(port), family = 'ipv6' }"),
        ]
        // runit's sv, when this computer has it (the lab's machines do): a service directory the test
        // names and nothing supervises, so the answer is the same both ways ("fail", not installed).
        if ["/usr/bin/sv", "/bin/sv"].contains(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            let unsupervised = NSTemporaryDirectory() + "pd-shape-\(UUID().uuidString)"
            observations.append(
                ("service", ["service", unsupervised, "--manager", "runit"],
                 "service.status('\(unsupervised)', { manager = 'runit' })"))
        }
        let calls = observations.map { name, _, lua in "\(name) = \(lua)" }.joined(separator: ", ")
        let dir = try cli.pack([
            "pack.lua": """
                return pack { id = "demo", version = "1.0.0", title = "Demo", steps = { "a" } }
                """,
            "a.lua": """
                \(Self.shapeFunction)
                return check { title = 'A', run = function(ctx)
                  local seen = { \(calls) }
                  local shapes = {}
                  for name, value in pairs(seen) do shapes[name] = shape(value) end
                  return pass { summary = 'observed', evidence = { seen = seen, shapes = shapes } }
                end }
                """,
        ])
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let run = try cli.portdoctor(["run", dir.path, "--format", "json"])
        let report = try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
        let evidence = try #require(report.checks.first?.evidence, "\(run.stdout) \(run.stderr)")
        #expect(report.checks.first?.status == "pass", "\(run.stdout)")

        for (name, arguments, _) in observations {
            let probe = try cli.portdoctor(["probe"] + arguments + ["--format", "json"])
            let printed = try JSONDecoder().decode(Shape.self, from: Data(probe.stdout.utf8)).description
            #expect(!printed.isEmpty, "probe \(name): \(probe.stderr)")
            #expect(printed == evidence.shapes[name], "probe \(name) --format json vs the table checks get")
            #expect(
                printed == evidence.seen[name]?.description,
                "probe \(name) --format json vs the report's evidence")
        }
    }

    /// The probes share their option types: a bad port, protocol or family is refused by every probe
    /// that takes it, in the same words, before anything runs (exit 2).
    @Test func sharedOptionsRefuseInOneWay() throws {
        let cli = CommandLineTests()
        for (arguments, words) in [
            (["connect", "127.0.0.1", "70000"], "port must be 1 to 65535, got 70000"),
            (["udp", "127.0.0.1", "0"], "port must be 1 to 65535, got 0"),
            (["bind", "65536"], "port must be 1 to 65535, got 65536"),
            (["netstat", "--port", "0"], "--port must be 1 to 65535, got 0"),
            (["firewall", "--port", "99999"], "--port must be 1 to 65535, got 99999"),
            (["bind", "80", "--proto", "sctp"], "Please provide one of 'tcp' and 'udp'"),
            (["netstat", "--proto", "sctp"], "Please provide one of 'tcp' and 'udp'"),
            (["firewall", "--port", "80", "--proto", "sctp"], "Please provide one of 'tcp' and 'udp'"),
            (["pcp", "--proto", "sctp"], "Please provide one of 'tcp' and 'udp'"),
            (["addresses", "--family", "ipv5"], "Please provide one of 'ipv4' and 'ipv6'"),
            (["firewall", "--port", "80", "--family", "ipv5"], "Please provide one of 'ipv4' and 'ipv6'"),
            (["pcp", "--external-port", "70000"], "--external-port must be 0 to 65535, got 70000"),
        ] {
            let run = try cli.portdoctor(["probe"] + arguments)
            #expect(run.status == 2, "\(arguments)")
            #expect(run.stderr.contains(words), "\(arguments): \(run.stderr)")
        }
    }

    struct Report: Decodable {
        struct Check: Decodable {
            var status: String
            var evidence: Evidence?
        }
        struct Evidence: Decodable {
            var seen: [String: Shape]
            var shapes: [String: String]
        }
        var checks: [Check]
    }
}
