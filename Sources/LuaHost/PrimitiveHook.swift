import CLua
import LuaShim
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
        let runtime = call.runtime
        let arguments =
            call.argumentCount > 0 ? (1...call.argumentCount).map { runtime.readable(call.stack, $0) } : []
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
            case .results(let values):
                for v in values { runtime.pushAnswer(v, on: call.stack) }
                return .values(Int32(values.count))
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
            tell(.results(n > 0 ? (0..<n).map { runtime.readable(call.stack, -n + $0) } : []))
        }
        return returned
    }

    /// A value for a hook: what cannot be copied out of Lua is `.opaque` with its type's name, and
    /// an object of a `defineType` type (also inside a table) is `.opaque("Connection#1")`: its type
    /// and the order it was first seen in, so that its method calls can be told from another's.
    func readable(_ stack: LuaStack, _ index: Int32) -> LuaValue {
        (try? stack.value(at: index, labellingObjects: { objectLabel(at: $0, in: stack) }))
            ?? .opaque(typeName: stack.typeName(at: index))
    }

    /// "Connection#2" for the second Connection hooks saw (a stand-in keeps its recorded label);
    /// nil for userdata that is no object of ours.
    func objectLabel(at index: Int32, in stack: LuaStack) -> String? {
        guard let pointer = pd_object_at(stack.state, index), let type = definedTypeName(at: index, in: stack)
        else { return nil }
        let object = Unmanaged<AnyObject>.fromOpaque(pointer).takeUnretainedValue()
        if let standIn = object as? ObjectStandIn { return standIn.label }
        let id = ObjectIdentifier(object)
        // Weak, so that a freed object's address reused by a new one gets a label of its own.
        if let known = objectLabels[id], known.object === object { return known.label }
        let n = (objectCounts[type] ?? 0) + 1
        objectCounts[type] = n
        let label = "\(type)#\(n)"
        objectLabels[id] = LabelledObject(object: object, label: label)
        return label
    }

    /// Pushes a value a hook answered with: `.opaque("Connection#1")`, at the top or in a table,
    /// becomes a stand-in with Connection's methods, whose calls the hooks answer in turn (replay).
    func pushAnswer(_ value: LuaValue, on stack: LuaStack) {
        switch value {
        case .opaque(let label):
            if !pushStandIn(label: label, on: stack) { stack.push(LuaValue.nil) }
        case .table(let t) where t.holdsObjects:
            lua_createtable(stack.state, Int32(clamping: t.sequence.count), Int32(clamping: t.fields.count))
            for (i, element) in t.sequence.enumerated() {
                pushAnswer(element, on: stack)
                lua_rawseti(stack.state, -2, lua_Integer(i + 1))
            }
            for (key, element) in t.fields {
                switch key {
                case .nil, .opaque: continue
                case .number(let d) where d.isNaN: continue
                default: break
                }
                stack.push(key)
                pushAnswer(element, on: stack)
                lua_rawset(stack.state, -3)
            }
        default: stack.push(value)
        }
    }
}

/// What a replayed object is: its recorded label. Its methods are the real type's (the same
/// metatable), so each call reaches the hooks like a real one; no hook answering it is an error,
/// as the real method refuses an object of another class (`LuaRuntime.object`).
final class ObjectStandIn {
    let label: String
    init(label: String) { self.label = label }
}

struct LabelledObject {
    weak var object: AnyObject?
    let label: String
}

extension LuaTable {
    fileprivate var holdsObjects: Bool {
        func holds(_ v: LuaValue) -> Bool {
            switch v {
            case .opaque: true
            case .table(let t): t.holdsObjects
            default: false
            }
        }
        return sequence.contains(where: holds) || fields.values.contains(where: holds)
    }
}

/// The clock as `os.time` and `os.clock` read it (what the C library's versions answer).
enum WallTime {
    static func seconds() -> Int64 { Int64(time(nil)) }
    static func processorSeconds() -> Double { Double(clock()) / Double(CLOCKS_PER_SEC) }
}
