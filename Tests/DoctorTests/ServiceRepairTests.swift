import Foundation
import Probes
import Testing

@testable import Doctor

#if canImport(Glibc)
    import Glibc
#endif

/// A stopped service found by a check and restarted by its repair, with a real runit supervisor.
@Suite(
    .serialized,
    .enabled(
        if: Services.tool("runsv") != nil || ProcessInfo.processInfo.environment["CI"] != nil,
        "needs runit (always required under CI)"))
struct ServiceRepairTests {
    static func pack(dir: String, port: Int) -> PackFolder {
        folder([
            "pack.lua": manifest(steps: ["service"]),
            "service.lua": """
            local dir, port = "\(dir)", \(port)
            return check {
              title = "The backup service is running",
              repairs = {
                restart = {
                  title = "Restart the backup service", changes = "restarts it (backups pause briefly)", privileged = true,
                  apply = function(ctx)
                    local ok, what = service.restart(dir, { manager = "runit", port = port, timeout = 10 })
                    if not ok then return false, what end
                  end,
                },
              },
              run = function(ctx)
                local s = service.status(dir, { manager = "runit" })
                if s.running and #netstat.listeners(port) > 0 then return pass("running, pid %d", s.pid) end
                return fail { summary = "the backup service is " .. s.state, cause = "service-not-running",
                              advice = { service.restart_command(dir, { manager = "runit" }) }, repairs = { "restart" } }
              end,
            }
            """,
        ])
    }

    @Test func aStoppedServiceIsRestartedAndTheCheckPassesAgain() throws {
        let runsv = try #require(Services.tool("runsv"), "runit is missing: run .ci/install-deps --test")
        let sv = try #require(Services.tool("sv"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pd-svc-\(UUID().uuidString)/backupd")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let port = 45000 + Int(getpid() % 5000)
        try """
        #!/bin/sh
        exec python3 -c 'import socket,time
        s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(("127.0.0.1",\(port)));s.listen();time.sleep(600)'
        """.write(to: dir.appendingPathComponent("run"), atomically: true, encoding: .utf8)
        chmod(dir.appendingPathComponent("run").path, 0o755)
        // Normally down: runsv supervises it but does not start it.
        _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("down").path, contents: nil)
        let supervisor = try ChildProcess.start([runsv, dir.path])
        defer {
            // SIGKILL: the service inherits the test runner's blocked SIGTERM, so `sv exit` alone leaves it running.
            _ = ChildProcess.run([sv, "kill", dir.path])
            _ = ChildProcess.run([sv, "exit", dir.path])
            supervisor.kill()
            _ = supervisor.wait()
            try? FileManager.default.removeItem(at: dir.deletingLastPathComponent())
        }
        for _ in 0..<50 where Services.status(dir.path, manager: .runit)?.installed != true { usleep(50_000) }

        let before = try diagnose(Self.pack(dir: dir.path, port: port))
        let f = try #require(before.finding("service"))
        #expect(f.status == .fail)
        #expect(f.cause == "service-not-running")
        #expect(f.advice == ["sv restart \(dir.path)"])
        #expect(f.repairs.map(\.outcome) == [.offered])

        let after = try diagnose(Self.pack(dir: dir.path, port: port)) {
            $0.options.fix = true
            $0.options.assumeYes = true
        }
        let g = try #require(after.finding("service"))
        #expect(g.status == .pass, "\(g.summary) \(g.repairs.map { $0.detail ?? "" })")
        #expect(g.repairs.map(\.outcome) == [.fixed])
        #expect(after.report.exitCode == 0)
    }

    @Test func restartingOutsideARepairIsRefused() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["a"]),
                "a.lua": passing(body: "service.restart('crashplan') return pass('x')"),
            ]))
        #expect(out.finding("a")?.summary.contains("service.restart changes this computer") == true)
    }
}
