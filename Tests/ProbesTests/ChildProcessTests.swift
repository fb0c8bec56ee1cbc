import Foundation
import Testing

@testable import Probes

#if canImport(Glibc)
    import Glibc
#endif

/// Tools started by portdoctor begin as from a shell, whatever the calling thread blocks or ignores.
@Suite struct ChildProcessTests {
    /// The flaky runit test's cause: runsv's service inherited a blocked TERM and `sv down` could not
    /// stop it. Started from a thread that blocks TERM and INT and ignores PIPE and HUP, a child
    /// blocks and ignores nothing (/proc/self/status, hexadecimal masks).
    @Test func aChildBlocksAndIgnoresNothing() throws {
        let masks = try onAThreadThatBlocksSignals {
            ChildProcess.output(["/bin/sh", "-c", "grep -E '^Sig(Blk|Ign):' /proc/self/status"])
        }
        let lines = try #require(masks).split(separator: "\n").map { $0.split(separator: "\t") }
        #expect(lines.count == 2)
        // The standard signals, 1…31 (glibc keeps 32 and 33 for its threads and ignores them there).
        for line in lines {
            #expect(line.count == 2 && (UInt64(line[1], radix: 16) ?? 1) & 0x7fff_ffff == 0, "\(line)")
        }
    }

    /// Runs `body` on a new thread whose mask blocks TERM and INT, with PIPE and HUP ignored for the
    /// whole process while it runs (restored after).
    func onAThreadThatBlocksSignals<T: Sendable>(_ body: @escaping @Sendable () -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let box = Box<T>()
        let thread = Thread {
            var blocked = sigset_t()
            sigemptyset(&blocked)
            sigaddset(&blocked, SIGTERM)
            sigaddset(&blocked, SIGINT)
            pthread_sigmask(SIG_BLOCK, &blocked, nil)
            let pipe = signal(SIGPIPE, SIG_IGN)
            let hup = signal(SIGHUP, SIG_IGN)
            box.value = body()
            signal(SIGPIPE, pipe)
            signal(SIGHUP, hup)
            done.signal()
        }
        thread.start()
        done.wait()
        return try #require(box.value)
    }

    final class Box<T>: @unchecked Sendable { var value: T? }
}
