import Reactor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One call of a primitive (a function of a module registered with `register(module:)`, a method
/// of a type from `defineType`, or the clock), as hooks see it.
public struct PrimitiveCall: Sendable {
    /// "socket.connect", "Connection.send", "os.time".
    public let name: String
    /// The arguments as plain data (userdata and functions as `.opaque`).
    public let arguments: [LuaValue]
    /// The check (task) that made the call; nil outside a task.
    public let task: String?
}

/// How a primitive call ended.
public enum PrimitiveOutcome: Sendable, Equatable {
    /// What the call returned to Lua.
    case results([LuaValue])
    /// The Lua error it raised (a misuse, like a bad argument).
    case error(String)
}

/// Sees every primitive call a check makes: the one place where recording, replay and tracing
/// happen, so that no module has to know about them. Hooks run on the loop's thread.
public protocol PrimitiveHook: AnyObject {
    /// Asked before the primitive runs: an outcome answers the call without running it (replay);
    /// nil lets it run. A thrown error becomes a Lua error in the check.
    func answer(_ call: PrimitiveCall) throws -> PrimitiveOutcome?
    /// Told how the call ended, when it has (at once, or when a waiting call resumes),
    /// and how long it took in nanoseconds.
    func completed(_ call: PrimitiveCall, _ outcome: PrimitiveOutcome, nanoseconds: Int64)
}

extension LuaRuntime {
    /// Runs one primitive call past the hooks (`hostDispatch` calls it only when there are hooks).
    /// Out of line, so that it does not weigh on the path without hooks.
    @inline(never)
    static func intercept(
        _ call: LuaCall, name: String, hooks: [any PrimitiveHook], body: (LuaCall) throws -> LuaReturn
    ) throws -> LuaReturn {
        let arguments = call.argumentCount > 0 ? (1...call.argumentCount).map { readable(call.stack, $0) } : []
        let primitive = PrimitiveCall(name: name, arguments: arguments, task: call.runtime.currentTask?.name)
        let start = EventLoop.now()
        func tell(_ outcome: PrimitiveOutcome) {
            let elapsed = EventLoop.now() - start
            for h in hooks { h.completed(primitive, outcome, nanoseconds: elapsed) }
        }
        for hook in hooks {
            let found: PrimitiveOutcome?
            do { found = try hook.answer(primitive) } catch {
                tell(.error((error as? LuaScriptError)?.message ?? "\(error)"))
                throw error
            }
            guard let answer = found else { continue }
            tell(answer)
            switch answer {
            case .results(let values): return call.returning(values)
            case .error(let message): throw LuaScriptError(message)
            }
        }
        let returned: LuaReturn
        do {
            returned = try body(call)
        } catch {
            tell(.error((error as? LuaScriptError)?.message ?? "\(error)"))
            throw error
        }
        if returned.code == LuaReturn.suspended.code {
            // The results arrive when the pending call resumes; a check ended first never gets them.
            call.runtime.lastSuspension?.observe { values in
                tell(values.map { .results($0) } ?? .error("the check ended before '\(name)' answered"))
            }
        } else if returned.code >= 0 {
            let n = returned.code
            tell(.results(n > 0 ? (0..<n).map { readable(call.stack, -n + $0) } : []))
        }
        return returned
    }

    /// A value for a hook: what cannot be copied out of Lua is `.opaque` with its type's name.
    static func readable(_ stack: LuaStack, _ index: Int32) -> LuaValue {
        (try? stack.value(at: index)) ?? .opaque(typeName: stack.typeName(at: index))
    }
}

/// The clock as `os.time` and `os.clock` read it (what the C library's versions answer).
enum WallTime {
    static func seconds() -> Int64 { Int64(time(nil)) }
    static func processorSeconds() -> Double { Double(clock()) / Double(CLOCKS_PER_SEC) }
}
