import BundledChecks

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `portdoctor pack new NAME`: a pack that lints clean, runs, and has a test case, for an author to
/// edit — plus the LuaLS settings and a copy of the API stubs so an editor completes and checks the
/// DSL and the primitives (the person has the binary, not portdoctor's source).
public enum PackScaffold {
    public static func validName(_ name: String) -> Bool {
        guard let first = name.first, first.isLetter, name.count <= 64 else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
    }

    /// Relative path → text.
    public static func files(id: String) -> [String: String] {
        [
            "pack.lua": """
            -- \(id): what this pack diagnoses, in one line.
            -- Run it:   portdoctor run ./\(id)            (or --param port=4243)
            -- Check it: portdoctor pack lint ./\(id)
            -- Test it:  portdoctor pack test ./\(id)      (the cases in tests/)
            return pack {
              id = "\(id)",
              version = "0.1.0",
              title = "\(id): a first check",
              params = {
                port = { type = "port", default = 4242, doc = "the TCP port the service listens on" },
              },
              -- Causes of this pack's own, besides portdoctor's shared vocabulary (docs: writing-checks.md).
              causes = {
                ["port-reserved"] = "the port is a system port, which the service should not use",
              },
              steps = { "port-range" },
            }

            """,
            "port-range.lua": """
            -- One check per file; the file name is the check's id, listed in pack.lua's steps.
            return check {
              title = "The port is outside the system range",
              run = function(ctx)
                local port = ctx.params.port
                if port <= 1023 then
                  return fail {
                    summary = string.format("port %d is a system port (1023 or lower)", port),
                    cause = "port-reserved",
                    advice = { "Choose a port above 1023 for the service, for example 4242." },
                    evidence = { port = port },
                  }
                end
                return pass("port %d is above the system range", port)
              end,
            }

            """,
            "tests/system-port.json": """
            {
              "description": "a system port is refused",
              "parameters": { "port": "80" },
              "calls": [],
              "expect": {
                "checks": {
                  "port-range": { "status": "fail", "cause": "port-reserved" }
                }
              }
            }

            """,
            ".luarc.json": """
            {
              "runtime.version": "Lua 5.4",
              "workspace.library": [".luals"],
              "diagnostics.disable": ["lowercase-global"]
            }

            """,
            ".luals/portdoctor.lua": BundledChecks.supportFiles["portdoctor.lua"] ?? "---@meta\n",
        ]
    }

    /// Writes a new pack into `directory/id`; refuses to write into a folder that has files.
    public static func create(id: String, in directory: String) throws(PackArchiveError) -> String {
        guard validName(id) else {
            throw .refused(
                "'\(id)' is not a usable pack id: lowercase letters, digits and '-', starting with a letter")
        }
        let root = directory + "/" + id
        if let existing = try? FileManager.default.contentsOfDirectory(atPath: root), !existing.isEmpty {
            throw .refused("\(root) already exists and is not empty")
        }
        do {
            for (path, text) in files(id: id).sorted(by: { $0.key < $1.key }) {
                let url = URL(fileURLWithPath: root + "/" + path)
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(text.utf8).write(to: url)
            }
        } catch {
            throw .refused("cannot write the pack into \(root): \(error)")
        }
        return root
    }
}
