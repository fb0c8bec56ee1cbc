import Foundation
import LuaHost

/// A runtime with the small host modules the tests use to exercise suspension for real:
/// `clock.sleep(seconds)` waits on the event loop's timer, `fd.wait_readable(fd)` on poll(2).
func makeRuntime(limits: LuaLimits = .default, printed: PrintedLines? = nil) throws -> LuaRuntime {
    var options = LuaRuntime.Options()
    options.limits = limits
    if let printed { options.print = { text, _ in printed.lines.append(text) } }
    let runtime = try LuaRuntime(options: options)
    runtime.register(
        module: "clock",
        [
            "sleep": HostFunction.sleep
        ])
    runtime.register(
        module: "fd",
        [
            "wait_readable": HostFunction { call in
                let fd = Int32(try call.integer(1))
                let loop = call.runtime.loop
                return try call.suspend { pending in
                    let token = loop.watch(fd, for: .readable) { revents in
                        pending.resume(with: [.integer(Int64(revents))])
                    }
                    pending.onCancel { loop.cancel(token) }
                }
            }
        ])
    return runtime
}

final class PrintedLines: @unchecked Sendable {
    var lines: [String] = []
}

extension Result where Success == [LuaValue], Failure == LuaError {
    var error: LuaError? {
        if case .failure(let e) = self { return e }
        return nil
    }
    var values: [LuaValue]? {
        if case .success(let v) = self { return v }
        return nil
    }
}

/// A path in the temp directory that no test creates: hostile scripts try to create it.
func untouchablePath(_ label: String) -> String {
    NSTemporaryDirectory() + "portdoctor-hostile-\(label)-\(UUID().uuidString)"
}

/// Runs `body` on a thread of its own and waits for it at most `seconds`. Code that hangs inside
/// Lua's C functions, where no limit can stop it, then fails the test instead of hanging the
/// suite (the stuck thread is left to spin until the process ends).
func finishing<T: Sendable>(within seconds: Double, _ body: @escaping @Sendable () -> T) -> T? {
    let box = Outcome<T>()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        box.value = body()
        done.signal()
    }
    thread.stackSize = 16 << 20
    thread.start()
    guard done.wait(timeout: .now() + seconds) == .success else { return nil }
    return box.value
}

private final class Outcome<T>: @unchecked Sendable {
    var value: T?
}

/// One check in a fresh state and then a well-behaved one in the same state, on a thread of its
/// own (see `finishing`); nil when the first never ended.
func runThenRunAnother(
    _ source: String, name: String, limits: LuaLimits, within seconds: Double = 120
) -> (first: Result<[LuaValue], LuaError>, next: Result<[LuaValue], LuaError>)? {
    finishing(within: seconds) {
        let runtime: LuaRuntime
        do { runtime = try makeRuntime(limits: limits) } catch {
            let failure = Result<[LuaValue], LuaError>.failure(LuaError(kind: .runtime, message: "\(error)"))
            return (failure, failure)
        }
        let first = runtime.run(source, name: name)
        let next = runtime.run(
            "local t = {} for i = 1, 1000 do t[i] = ('x'):rep(2) end return #t, ('a.b'):find('.', 1, true)",
            name: "next.lua")
        return (first, next)
    }
}
