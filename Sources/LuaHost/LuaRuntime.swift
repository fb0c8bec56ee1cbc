import CLua
import LuaShim
import Reactor

/// A function value kept alive in the Lua registry (a loaded check chunk, a check's `run`).
public final class LuaRef {
    let ref: Int32
    weak var runtime: LuaRuntime?

    init(ref: Int32, runtime: LuaRuntime) {
        self.ref = ref
        self.runtime = runtime
    }

    deinit {
        if let runtime { luaL_unref(runtime.L, pd_registry_index(), ref) }
    }
}

/// One sandboxed Lua 5.4 state and the scheduler that runs checks in it as coroutines.
/// Not thread-safe: create it, use it and drop it on one thread.
public final class LuaRuntime {
    public struct Options {
        /// Limits applied to every task unless its spawn call tightens them.
        public var limits: LuaLimits = .default
        /// Where `print` goes, as soon as it is called: the text (arguments joined by tabs) and the
        /// task that printed it (nil outside any task).
        public var print: (_ text: String, _ task: LuaTask?) -> Void = { _, _ in }
        /// How many printed lines each task keeps in `LuaTask.printed`, for reports; 0 keeps none.
        public var keepPrinted = 0
        /// The budget for the pattern-cost guard (see `PatternCost`).
        public var patternBudget: Double = PatternCost.defaultBudget

        public init() {}
    }

    let L: OpaquePointer
    private let budget: UnsafeMutablePointer<pd_budget>
    private var sandboxRef: Int32 = LUA_NOREF
    private var typeMetatables: [ObjectIdentifier: (ref: Int32, name: String)] = [:]
    /// Objects hooks have seen, by label ("Connection#1"), and how many of each type.
    var objectLabels: [ObjectIdentifier: LabelledObject] = [:]
    var objectCounts: [String: Int] = [:]
    private var typeMethodNames: [String: [String]] = [:]
    public let options: Options
    public let loop = EventLoop()

    private var ready: [LuaTask] = []
    private var live: [ObjectIdentifier: LuaTask] = [:]
    /// The task whose code is running right now.
    public private(set) var currentTask: LuaTask?
    /// See every primitive call (recording, replay, `--trace`); asked in order, the first answer wins.
    public var primitiveHooks: [any PrimitiveHook] = [] {
        didSet { hasPrimitiveHooks = !primitiveHooks.isEmpty }
    }
    /// Read on every host call: a stored Bool keeps the path without hooks as short as it was.
    private(set) var hasPrimitiveHooks = false
    /// The call that suspended last, even if already resumed (its answer was at hand): hooks observe it.
    private(set) weak var lastSuspension: LuaPendingCall?

    public init(options: Options = Options()) throws(LuaError) {
        self.options = options
        budget = .allocate(capacity: 1)
        budget.initialize(to: pd_budget())
        guard let state = pd_newstate(budget) else {
            budget.deallocate()
            throw LuaError(kind: .runtime, message: "could not create a Lua state (out of memory)")
        }
        L = state
        openLibraries()
        try installSandbox()
    }

    deinit {
        for task in live.values { task.pending?.cancel() }
        lua_close(L)
        budget.deallocate()
    }

    public static var luaVersion: String { "Lua \(LUA_VERSION_MAJOR).\(LUA_VERSION_MINOR).\(LUA_VERSION_RELEASE)" }

    /// Bytes the Lua heap holds right now.
    public var memoryInUse: Int { budget.pointee.memory_in_use }

    // MARK: setup

    private func openLibraries() {
        // io, os (beyond the clock), debug and package are never opened: nothing can leak them.
        let libraries: [(String, lua_CFunction)] = [
            ("_G", luaopen_base), ("coroutine", luaopen_coroutine), ("table", luaopen_table),
            ("string", luaopen_string), ("math", luaopen_math), ("utf8", luaopen_utf8), ("os", luaopen_os),
        ]
        for (name, open) in libraries {
            luaL_requiref(L, name, open, 1)
            pd_pop(L, 1)
        }
    }

    private func installSandbox() throws(LuaError) {
        var prelude = sandboxPrelude
        let status = prelude.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                luaL_loadbufferx(L, $0.baseAddress, $0.count, "=portdoctor:sandbox", "t")
            }
        }
        guard status == LUA_OK else { throw popError(kind: .syntax) }
        lua_createtable(L, 0, 4)
        pd_push_suspend_marker(L)
        lua_setfield(L, -2, "marker")
        lua_pushcclosure(L, pd_rethrow_if_tripped, 0)
        lua_setfield(L, -2, "rethrow")
        lua_pushcclosure(L, pd_is_tripped, 0)
        lua_setfield(L, -2, "tripped")
        lua_pushcclosure(L, pd_check_deadline, 0)
        lua_setfield(L, -2, "check_deadline")
        pushFunction(
            named: "pattern_cost",
            HostFunction { [budget = options.patternBudget] call in
                let pattern = try call.bytes(2)
                let initial = try call.optionalInteger(3)
                let use = try call.optionalString(4).flatMap(PatternCost.Use.init(rawValue:)) ?? .find
                let refusal = call.stack.withBytes(at: 1) {
                    PatternCost.refusal(
                        subject: $0, pattern: pattern, initialPosition: initial, use: use, budget: budget)
                }
                guard let reason = refusal ?? nil else { return .values(0) }
                call.push(reason)
                return .values(1)
            })
        lua_setfield(L, -2, "pattern_cost")
        pushFunction(
            named: "pattern_shape",
            HostFunction { call in
                let use = try call.optionalString(2).flatMap(PatternCost.Use.init(rawValue:)) ?? .find
                guard let shape = PatternCost.shape(pattern: try call.bytes(1), use: use) else { return .values(0) }
                return call.returning(
                    .boolean(shape.plain), .integer(Int64(shape.branching)), .integer(Int64(shape.optional)),
                    .integer(Int64(shape.items)), .number(shape.perStep))
            })
        lua_setfield(L, -2, "pattern_shape")
        LuaStack(L).push(LuaValue.number(options.patternBudget))
        lua_setfield(L, -2, "pattern_budget")
        pushFunction(
            named: "print",
            HostFunction { call in
                let text = try call.string(1)
                let runtime = call.runtime
                runtime.options.print(text, runtime.currentTask)
                if runtime.options.keepPrinted > 0 {
                    runtime.currentTask?.keep(printed: text, atMost: runtime.options.keepPrinted)
                }
                return .none
            })
        lua_setfield(L, -2, "print")
        // The clock is a primitive too, so that a replayed run sees the recorded time.
        pushFunction(
            named: "os.time", HostFunction { call in call.returning(.integer(WallTime.seconds())) }, primitive: "os.time")
        lua_setfield(L, -2, "now")
        pushFunction(
            named: "os.clock", HostFunction { call in call.returning(.number(WallTime.processorSeconds())) },
            primitive: "os.clock")
        lua_setfield(L, -2, "clock")
        guard pd_pcall(L, 1, 1) == LUA_OK else { throw popError(kind: .runtime) }
        sandboxRef = luaL_ref(L, pd_registry_index())
    }

    func popError(kind: LuaError.Kind) -> LuaError {
        let message = LuaStack(L).bytes(at: -1).map { String(decoding: $0, as: UTF8.self) } ?? "unknown error"
        pd_pop(L, 1)
        return LuaError(kind: kind, message: message)
    }

    /// The value a reference holds, as plain data.
    public func value(of ref: LuaRef) -> LuaValue {
        lua_rawgeti(L, pd_registry_index(), lua_Integer(ref.ref))
        defer { pd_pop(L, 1) }
        return (try? LuaStack(L).value(at: -1)) ?? .nil
    }

    /// Calls `sandbox[name](args…)` under protection, leaving `results` values on the stack.
    private func callSandbox(_ name: String, arguments: Int32, results: Int32) -> Bool {
        lua_rawgeti(L, pd_registry_index(), lua_Integer(sandboxRef))
        lua_pushstring(L, name)
        lua_rawget(L, -2)
        pd_remove(L, -2)
        pd_insert(L, -(arguments + 1))
        if pd_pcall(L, arguments, results) != LUA_OK {
            pd_pop(L, 1)
            return false
        }
        return true
    }

    /// Runs trusted Lua that extends the API every check sees. The chunk gets the real globals and,
    /// as `...`, a function `define(name, value)` that adds a global to the read-only API
    /// (tables are frozen deeply). Use it for Lua-side helpers (result constructors, `require`).
    public func extendAPI(lua source: String, name: String, hostFunctions: [String: HostFunction] = [:])
        throws(LuaError)
    {
        var source = source
        let status = source.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                luaL_loadbufferx(L, $0.baseAddress, $0.count, "=portdoctor:\(name)", "t")
            }
        }
        guard status == LUA_OK else { throw popError(kind: .syntax) }
        lua_rawgeti(L, pd_registry_index(), lua_Integer(sandboxRef))
        lua_pushstring(L, "define")
        lua_rawget(L, -2)
        pd_remove(L, -2)
        lua_createtable(L, 0, Int32(hostFunctions.count))
        for (fname, function) in hostFunctions {
            lua_pushstring(L, fname)
            pushFunction(named: fname, function)
            lua_rawset(L, -3)
        }
        guard pd_pcall(L, 2, 0) == LUA_OK else { throw popError(kind: .runtime) }
    }

    /// One global a check can read, as the sandbox has it right now.
    public struct APIGlobal: Sendable, Equatable {
        public var name: String
        /// Lua's type name: "function", "table", "string".
        public var kind: String
        /// A table's fields and their type names.
        public var fields: [String: String]
    }

    /// Every global a check's environment offers (the API with every module registered so far,
    /// `_G` and `load`), read from the live sandbox: what `pack lint` and the stubs' test compare with.
    public func apiGlobals() -> [String: APIGlobal] {
        guard callSandbox("describe", arguments: 0, results: 1) else { return [:] }
        defer { pd_pop(L, 1) }
        guard case .table(let t)? = try? LuaStack(L).value(at: -1) else { return [:] }
        var out: [String: APIGlobal] = [:]
        for entry in t.sequence {
            guard case .table(let e) = entry, let name = e["name"].stringValue else { continue }
            var fields: [String: String] = [:]
            if case .table(let f) = e["fields"] {
                for item in f.sequence {
                    guard let text = item.stringValue, let eq = text.lastIndex(of: "=") else { continue }
                    fields[String(text[..<eq])] = String(text[text.index(after: eq)...])
                }
            }
            out[name] = APIGlobal(name: name, kind: e["kind"].stringValue ?? "nil", fields: fields)
        }
        return out
    }

    // MARK: host functions, modules, objects

    func pushFunction(named name: String, _ function: HostFunction, primitive: String? = nil) {
        let box = HostFunctionBox(function: function, name: name, primitive: primitive, runtime: self)
        pd_push_host_function(L, Unmanaged.passRetained(box).toOpaque())
    }

    /// Makes `functions` available to checks as the read-only global table `name`. `primitives`:
    /// whether hooks see (record, replay, trace) their calls; false for functions that only hand
    /// the run's own input to checks, which a replay gives anew.
    public func register(
        module name: String, _ functions: [String: HostFunction], constants: [String: LuaValue] = [:],
        cFunctions: [String: lua_CFunction] = [:], primitives: Bool = true
    ) {
        lua_createtable(L, 0, Int32(functions.count + constants.count + cFunctions.count))
        for (fname, function) in cFunctions {
            lua_pushstring(L, fname)
            lua_pushcclosure(L, function, 0)
            lua_rawset(L, -3)
        }
        for (fname, function) in functions.sorted(by: { $0.key < $1.key }) {
            lua_pushstring(L, fname)
            pushFunction(named: "\(name).\(fname)", function, primitive: primitives ? "\(name).\(fname)" : nil)
            lua_rawset(L, -3)
        }
        for (key, value) in constants {
            lua_pushstring(L, key)
            LuaStack(L).push(value)
            lua_rawset(L, -3)
        }
        lua_pushstring(L, name)
        pd_insert(L, -2)
        let ok = callSandbox("add_module", arguments: 2, results: 0)
        precondition(ok, "installing module '\(name)' failed")
    }

    /// Lets Swift objects of type `T` be handed to checks as userdata with these methods
    /// (called as `object:method(...)`; argument 1 is the object).
    public func defineType<T: AnyObject>(
        _ type: T.Type, name: String, methods: [String: (T, LuaCall) throws -> LuaReturn]
    ) {
        lua_createtable(L, 0, 4)
        lua_pushcclosure(L, pd_release_userdata, 0)
        lua_setfield(L, -2, "__gc")
        lua_pushstring(L, "locked")
        lua_setfield(L, -2, "__metatable")
        lua_pushstring(L, name)
        lua_setfield(L, -2, "__name")
        lua_createtable(L, 0, Int32(methods.count))
        for (mname, method) in methods {
            lua_pushstring(L, mname)
            pushFunction(
                named: mname,
                HostFunction { call in
                    try method(try call.object(T.self, 1), call)
                }, primitive: "\(name).\(mname)")
            lua_rawset(L, -3)
        }
        lua_setfield(L, -2, "__index")
        let ref = luaL_ref(L, pd_registry_index())
        typeMetatables[ObjectIdentifier(type)] = (ref, name)
        typeMethodNames[name] = methods.keys.sorted()
    }

    func typeName<T: AnyObject>(of type: T.Type) -> String? { typeMetatables[ObjectIdentifier(type)]?.name }

    /// Pushes a Swift object of a type registered with `defineType` (also from a resume closure).
    public func push<T: AnyObject>(object: T, on stack: LuaStack) {
        guard let entry = typeMetatables[ObjectIdentifier(T.self)] else {
            preconditionFailure("\(T.self) was not registered with defineType")
        }
        lua_rawgeti(stack.state, pd_registry_index(), lua_Integer(entry.ref))
        pd_push_object(stack.state, Unmanaged.passRetained(object).toOpaque(), -1)
        pd_remove(stack.state, -2)
    }

    func object<T: AnyObject>(_ type: T.Type, at index: Int32, in stack: LuaStack) -> T? {
        guard let entry = typeMetatables[ObjectIdentifier(type)],
            let pointer = pd_object_at(stack.state, index),
            lua_getmetatable(stack.state, index) != 0
        else { return nil }
        lua_rawgeti(stack.state, pd_registry_index(), lua_Integer(entry.ref))
        let same = lua_rawequal(stack.state, -1, -2) != 0
        pd_pop(stack.state, 2)
        // A replay's stand-in shares the type's metatable but is no T: the cast tells them apart.
        return same ? Unmanaged<AnyObject>.fromOpaque(pointer).takeUnretainedValue() as? T : nil
    }

    /// The `defineType` name of the object at `index`, or nil when it is no such object.
    func definedTypeName(at index: Int32, in stack: LuaStack) -> String? {
        guard lua_type(stack.state, index) == LUA_TUSERDATA, lua_getmetatable(stack.state, index) != 0 else {
            return nil
        }
        defer { pd_pop(stack.state, 1) }
        for entry in typeMetatables.values {
            lua_rawgeti(stack.state, pd_registry_index(), lua_Integer(entry.ref))
            let same = lua_rawequal(stack.state, -1, -2) != 0
            pd_pop(stack.state, 1)
            if same { return entry.name }
        }
        return nil
    }

    /// Pushes a stand-in for the object a hook recorded as `label` ("Connection#1"); false when
    /// no type of that name is defined.
    func pushStandIn(label: String, on stack: LuaStack) -> Bool {
        guard let hash = label.lastIndex(of: "#"),
            let entry = typeMetatables.values.first(where: { $0.name == label[..<hash] })
        else { return false }
        lua_rawgeti(stack.state, pd_registry_index(), lua_Integer(entry.ref))
        pd_push_object(stack.state, Unmanaged.passRetained(ObjectStandIn(label: label) as AnyObject).toOpaque(), -1)
        pd_remove(stack.state, -2)
        return true
    }

    /// The names and method names of the types defined with `defineType` (for the API's
    /// description, which the LuaLS stubs are tested against).
    public var definedTypes: [String: [String]] { typeMethodNames }

    // MARK: loading

    /// Compiles `source` (text only) as a chunk with its own sandboxed globals.
    /// `name` is what error messages show, e.g. "crashplan/reach-peer.lua".
    public func load(_ source: String, name: String, globals: [String: LuaValue] = [:]) throws(LuaError) -> LuaRef {
        var source = source
        let status = source.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                luaL_loadbufferx(L, $0.baseAddress, $0.count, "@" + name, "t")
            }
        }
        guard status == LUA_OK else {
            var error = popError(kind: status == LUA_ERRSYNTAX ? .syntax : .runtime)
            (error.chunk, error.line) = LuaRuntime.position(in: error.message, chunk: name)
            throw error
        }
        if globals.isEmpty {
            lua_pushnil(L)
        } else {
            LuaStack(L).push(
                LuaTable(fields: Dictionary(uniqueKeysWithValues: globals.map { (.text($0.key), $0.value) })))
        }
        guard callSandbox("new_env", arguments: 1, results: 1) else {
            pd_pop(L, 1)
            throw LuaError(kind: .runtime, message: "could not create the environment for \(name)")
        }
        _ = lua_setupvalue(L, -2, 1)  // the chunk's _ENV
        return LuaRef(ref: luaL_ref(L, pd_registry_index()), runtime: self)
    }

    /// The message without its leading "chunk:line: ", for callers that show the position themselves.
    public static func stripPosition(_ message: String, chunk: String) -> String {
        guard message.hasPrefix(chunk + ":") else { return message }
        let rest = message.dropFirst(chunk.count + 1)
        let afterLine = rest.drop { $0.isNumber }
        guard afterLine.count < rest.count, afterLine.hasPrefix(": ") else { return message }
        return String(afterLine.dropFirst(2))
    }

    static func position(in message: String, chunk: String) -> (String?, Int?) {
        guard message.hasPrefix(chunk + ":") else { return (nil, nil) }
        let digits = message.dropFirst(chunk.count + 1).prefix { $0.isNumber }
        return (chunk, Int(digits))
    }

    // MARK: tasks

    /// Starts `function(arguments…)` as a new task. It runs when `run()` is called.
    @discardableResult
    public func spawn(_ function: LuaRef, arguments: [LuaValue] = [], name: String, limits: LuaLimits? = nil) -> LuaTask
    {
        let thread = lua_newthread(L)!
        let threadRef = luaL_ref(L, pd_registry_index())
        pd_arm_hook(thread)
        lua_rawgeti(L, pd_registry_index(), lua_Integer(function.ref))
        lua_xmove(L, thread, 1)
        let stack = LuaStack(thread)
        for a in arguments { stack.push(a) }
        let task = LuaTask(
            name: name, thread: thread, threadRef: threadRef,
            limits: limits.map { options.limits.tightened(by: $0) } ?? options.limits,
            argumentCount: Int32(arguments.count))
        live[ObjectIdentifier(task)] = task
        ready.append(task)
        return task
    }

    /// Loads and runs one chunk to completion: the convenience for tests and one-off scripts.
    public func run(_ source: String, name: String, limits: LuaLimits? = nil) -> Result<[LuaValue], LuaError> {
        let chunk: LuaRef
        do { chunk = try load(source, name: name) } catch { return .failure(error) }
        let task = spawn(chunk, name: name, limits: limits)
        run()
        return task.outcome!
    }

    /// Runs the loop until every spawned task has finished.
    public func run() {
        while !live.isEmpty {
            while !ready.isEmpty {
                step(ready.removeFirst())
            }
            guard !live.isEmpty else { break }
            let waiting = live.values.filter { $0.state == .waiting }
            guard !waiting.isEmpty else { continue }
            loop.turn(until: waiting.map(\.deadline).min())
            let now = EventLoop.now()
            for task in waiting where task.state == .waiting && task.deadline <= now {
                killForTime(task)
            }
        }
    }

    func beginSuspension(of functionName: String) throws -> LuaPendingCall {
        guard let task = currentTask else {
            throw LuaScriptError("'\(functionName)' can only wait inside a running check")
        }
        // A previous suspension that never reached the host (its yield failed) is abandoned.
        task.pending?.cancel()
        let pending = LuaPendingCall(functionName: functionName, task: task, runtime: self)
        task.pending = pending
        lastSuspension = pending
        return pending
    }

    func makeReady(_ task: LuaTask) {
        guard task.state == .waiting else { return }  // if still running, step() queues it after the yield
        task.state = .ready
        ready.append(task)
    }

    private func step(_ task: LuaTask) {
        guard task.state != .finished else { return }
        var arguments = task.argumentCount
        if let push = task.resumeWith {
            task.resumeWith = nil
            arguments = push(LuaStack(task.thread))
        }
        task.argumentCount = 0
        task.state = .running
        currentTask = task

        let b = budget
        let before = b.pointee.memory_in_use
        b.pointee.instructions_left = task.instructionsLeft
        b.pointee.deadline_ns = task.deadline
        b.pointee.memory_ceiling = before + max(0, task.limits.memoryBytes - task.memoryCharged)
        b.pointee.tripped = Int32(PD_LIMIT_NONE)
        b.pointee.memory_refusals = 0
        b.pointee.limit_instructions = task.limits.instructions
        b.pointee.limit_memory = task.limits.memoryBytes
        b.pointee.limit_wall_ms = task.limits.wallClockNanoseconds / 1_000_000
        b.pointee.enforcing = 1
        var resultCount: Int32 = 0
        let status = lua_resume(task.thread, L, arguments, &resultCount)
        b.pointee.enforcing = 0
        task.instructionsLeft = b.pointee.instructions_left
        task.memoryCharged = max(0, task.memoryCharged + (b.pointee.memory_in_use - before))
        let tripped =
            b.pointee.tripped != PD_LIMIT_NONE
            ? b.pointee.tripped
            : (status == LUA_ERRMEM || b.pointee.memory_refusals > 0 ? Int32(PD_LIMIT_MEMORY) : Int32(PD_LIMIT_NONE))
        currentTask = nil

        let stack = LuaStack(task.thread)
        switch status {
        case LUA_YIELD where resultCount == 1 && pd_is_suspend_marker(task.thread, -1) != 0:
            stack.pop(1)
            if task.resumeWith != nil {
                task.state = .ready
                ready.append(task)
            } else if task.pending != nil {
                task.state = .waiting
            } else {
                finish(task, .failure(LuaError(kind: .runtime, message: "check suspended without a pending host call")))
            }
        case LUA_YIELD:
            stack.pop(resultCount)
            var error = describeError(
                of: task, message: "coroutine.yield() was called outside a coroutine (a check cannot yield to the host)"
            )
            error.kind = .runtime
            finish(task, .failure(error))
        case LUA_OK:
            var values: [LuaValue] = []
            var conversionError: LuaConversionError?
            for i in 0..<resultCount {
                do { values.append(try stack.value(at: -resultCount + i)) } catch {
                    conversionError = error
                    break
                }
            }
            stack.pop(resultCount)
            if let conversionError {
                finish(
                    task,
                    .failure(
                        LuaError(
                            kind: .runtime, message: "\(task.name): returned value cannot be used: \(conversionError)"))
                )
            } else {
                finish(task, .success(values))
            }
        default:
            var error = describeError(of: task, message: nil)
            if let kind = LuaRuntime.limitKind(tripped) {
                error.kind = kind
                error.message = LuaRuntime.limitMessage(kind, task.limits)
            }
            finish(task, .failure(error))
        }
    }

    private static func limitKind(_ tripped: Int32) -> LuaError.Kind? {
        switch tripped {
        case Int32(PD_LIMIT_INSTRUCTIONS): .instructionLimit
        case Int32(PD_LIMIT_MEMORY): .memoryLimit
        case Int32(PD_LIMIT_TIME): .timeLimit
        default: nil
        }
    }

    /// The same words the C side uses when it raises a limit error inside the check.
    static func limitMessage(_ kind: LuaError.Kind, _ limits: LuaLimits) -> String {
        switch kind {
        case .instructionLimit: "instruction limit exceeded (\(limits.instructions) instructions)"
        case .memoryLimit: "memory limit exceeded (\(limits.memoryBytes / 1024) KiB)"
        default: "time limit exceeded (\(limits.wallClockNanoseconds / 1_000_000) ms wall clock)"
        }
    }

    /// The error on top of the task's stack (or `message`, for errors the host detects itself).
    private func describeError(of task: LuaTask, message: String?) -> LuaError {
        if message != nil { lua_pushnil(task.thread) }
        var chunk = [CChar](repeating: 0, count: 256)
        var line: Int32 = -1
        pd_describe_error(L, task.thread, -1, 1, &chunk, chunk.count, &line)
        let stack = LuaStack(L)
        let traceback = stack.bytes(at: -1).map { String(decoding: $0, as: UTF8.self) }
        let described = LuaRuntime.withoutHostPosition(
            stack.bytes(at: -2).map { String(decoding: $0, as: UTF8.self) } ?? "unknown error")
        stack.pop(2)
        let chunkName = chunk.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return LuaError(
            kind: .runtime, message: message ?? described, chunk: chunkName.isEmpty ? nil : chunkName,
            line: line > 0 ? Int(line) : nil, traceback: traceback)
    }

    /// A library function called from the sandbox's own wrappers reports the wrapper's line
    /// ("portdoctor:sandbox:72: …"); the check's position is added from the stack instead.
    static func withoutHostPosition(_ message: String) -> String {
        guard message.hasPrefix("portdoctor:") else { return message }
        let afterChunk = message.drop { $0 != ":" }.dropFirst().drop { $0 != ":" }.dropFirst()
        let afterLine = afterChunk.drop { $0.isNumber }
        guard afterLine.count < afterChunk.count, afterLine.hasPrefix(": ") else { return message }
        return String(afterLine.dropFirst(2))
    }

    /// Ends a suspended task because a limit ran out while it waited.
    private func killForTime(_ task: LuaTask) {
        var error = describeError(of: task, message: nil)
        error.message = LuaRuntime.limitMessage(.timeLimit, task.limits)
        if let pending = task.pending { error.message += " while waiting in '\(pending.functionName)'" }
        error.kind = .timeLimit
        finish(task, .failure(error))
    }

    private func finish(_ task: LuaTask, _ outcome: Result<[LuaValue], LuaError>) {
        task.pending?.cancel()
        task.pending = nil
        task.resumeWith = nil
        // To-be-closed variables still pending run now, with any tripped limit still in force.
        budget.pointee.tripped = task.state == .waiting ? Int32(PD_LIMIT_TIME) : budget.pointee.tripped
        budget.pointee.enforcing = 1
        _ = pd_close_thread(task.thread, L)
        budget.pointee.enforcing = 0
        budget.pointee.tripped = Int32(PD_LIMIT_NONE)
        luaL_unref(L, pd_registry_index(), task.threadRef)
        task.state = .finished
        task.finishedAt = EventLoop.now()
        task.outcome = outcome
        live[ObjectIdentifier(task)] = nil
        task.onFinish?(task)
    }
}
