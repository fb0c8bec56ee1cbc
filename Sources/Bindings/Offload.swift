import Dispatch
import LuaHost
import Probes

extension LuaCall {
    /// Suspends the calling check while `work` runs on a worker thread (file I/O, system tools),
    /// then resumes it on the loop with what `results` makes of the answer. The loop stays free for
    /// the other checks' network I/O meanwhile.
    func offload<T: Sendable>(
        waitingFor what: String, _ work: @escaping @Sendable () -> T, results: @escaping (T) -> [LuaValue]
    ) throws -> LuaReturn {
        let mailbox = runtime.loop.mailbox
        return try suspend { pending in
            pending.waitingFor = what
            let resume = LoopBound((pending, results))
            mailbox.expectPost()
            DispatchQueue.global().async {
                let answer = work()
                mailbox.post { resume.value.0.resume(with: resume.value.1(answer)) }
            }
        }
    }
}

/// Carries a loop-thread value through a `@Sendable` post; the mailbox runs it on the loop's thread.
struct LoopBound<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
