import CLua
import LuaShim

/// One place a chunk names a global: `tiemout` (a read), `helper = …` (a write), `socket.conect`
/// (a read of `socket` whose field `conect` is taken at once).
public struct GlobalUse: Sendable, Equatable {
    public var name: String
    public var line: Int
    public var isWrite: Bool
    /// The constant field read from (or written into) the global by the very next instruction.
    public var field: String?
    public var fieldIsWrite = false
}

/// The globals a chunk reads and writes, found in the bytecode Lua itself compiles from it.
///
/// Why bytecode: whether `x` is a global depends on every `local` in scope, on function
/// parameters, on `for` variables and on upvalues — exactly what Lua's compiler works out. A
/// tokenizer of our own would have to redo scoping and would disagree with Lua on the cases it
/// missed; `luac -l` is not on users' machines (and Debian's lua5.4 package is only for us). So
/// the chunk is compiled by the Lua the runtime links, dumped with `lua_dump` (public API; not
/// stripped, so lines and upvalue names stay), and the dump is read here: every GETTABUP/SETTABUP
/// on the upvalue named `_ENV` is a global access, with its line from the debug info. The dump
/// format is Lua 5.4's (lundump.c); another version's dump is not read (the result is empty).
public struct ChunkGlobals: Sendable {
    /// The global accesses, by line.
    public var uses: [GlobalUse] = []
    /// The names of the chunk's locals (for "did you mean" when a global is a misspelt local).
    public var locals: Set<String> = []
    /// `require("name")` with a literal name, and its line: what the chunk will ask for.
    public var requires: [(name: String, line: Int)] = []

    /// Compiles and reads `source`; throws the syntax error if it does not compile.
    public init(source: String, name: String, runtime: LuaRuntime) throws(LuaError) {
        guard let dump = try runtime.dump(source, name: name) else { return }
        var reader = DumpReader(bytes: dump)
        if (try? reader.chunk()) != nil {
            uses = reader.uses.sorted { ($0.line, $0.name) < ($1.line, $1.name) }
            locals = reader.locals
            requires = reader.requires.sorted { ($0.line, $0.name) < ($1.line, $1.name) }
        }
    }
}

extension LuaRuntime {
    /// The bytecode of `source` as `string.dump` would give it (with debug info), or nil when
    /// dumping fails.
    func dump(_ source: String, name: String) throws(LuaError) -> [UInt8]? {
        var source = source
        let status = source.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                luaL_loadbufferx(L, $0.baseAddress, $0.count, "@" + name, "t")
            }
        }
        guard status == LUA_OK else {
            var error = popError(kind: .syntax)
            (error.chunk, error.line) = LuaRuntime.position(in: error.message, chunk: name)
            throw error
        }
        defer { pd_pop(L, 1) }
        let sink = DumpSink()
        let written = withExtendedLifetime(sink) {
            lua_dump(
                L,
                { _, p, size, ud in
                    guard let p, let ud else { return 1 }
                    let sink = Unmanaged<DumpSink>.fromOpaque(ud).takeUnretainedValue()
                    sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: p, count: size))
                    return 0
                }, Unmanaged.passUnretained(sink).toOpaque(), 0)
        }
        return written == 0 ? sink.bytes : nil
    }
}

private final class DumpSink {
    var bytes: [UInt8] = []
}

/// Reads a Lua 5.4 dump (lundump.c's order) far enough to find global accesses.
private struct DumpReader {
    struct Malformed: Error {}

    let bytes: [UInt8]
    var i = 0
    var uses: [GlobalUse] = []
    var locals: Set<String> = []
    var requires: [(name: String, line: Int)] = []

    // Opcodes of Lua 5.4 (lopcodes.h) that this reader looks at.
    static let loadK: UInt32 = 3, getTabUp: UInt32 = 11, getField: UInt32 = 14, setTabUp: UInt32 = 15, setField: UInt32 = 18
    static let selfOp: UInt32 = 20

    mutating func byte() throws(Malformed) -> UInt8 {
        guard i < bytes.count else { throw Malformed() }
        defer { i += 1 }
        return bytes[i]
    }

    mutating func skip(_ n: Int) throws(Malformed) {
        guard n >= 0, i + n <= bytes.count else { throw Malformed() }
        i += n
    }

    /// lundump's loadSize: 7 bits a byte, most significant first, the last byte marked by 0x80.
    mutating func size() throws(Malformed) -> Int {
        var x = 0
        while true {
            let b = try byte()
            guard x < Int.max >> 8 else { throw Malformed() }
            x = (x << 7) | Int(b & 0x7f)
            if b & 0x80 != 0 { return x }
        }
    }

    mutating func string() throws(Malformed) -> String? {
        let n = try size()
        guard n > 0 else { return nil }
        let start = i
        try skip(n - 1)
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    mutating func chunk() throws(Malformed) {
        // "\x1bLua", version 5.4, format 0, LUAC_DATA (6), sizes of Instruction, Integer, Number.
        guard bytes.starts(with: [0x1b, 0x4c, 0x75, 0x61, 0x54, 0x00]) else { throw Malformed() }
        try skip(6 + 6 + 3)
        guard bytes[i - 3] == 4, bytes[i - 2] == 8, bytes[i - 1] == 8 else { throw Malformed() }
        try skip(8 + 8 + 1)  // LUAC_INT, LUAC_NUM, the main closure's upvalue count
        try function()
    }

    mutating func function() throws(Malformed) {
        _ = try string()  // source
        let lineDefined = try size()
        _ = try size()  // last line
        try skip(3)  // parameters, vararg, stack size
        let codeCount = try size()
        var code: [UInt32] = []
        code.reserveCapacity(codeCount)
        for _ in 0..<codeCount {
            let b0 = UInt32(try byte()), b1 = UInt32(try byte()), b2 = UInt32(try byte()), b3 = UInt32(try byte())
            code.append(b0 | b1 << 8 | b2 << 16 | b3 << 24)  // little-endian (checked: x86-64, arm64)
        }
        var constants: [String?] = []
        for _ in 0..<(try size()) {
            switch try byte() {
            case 0x00, 0x01, 0x11: constants.append(nil)  // nil, false, true
            case 0x03, 0x13:  // integer, float
                try skip(8)
                constants.append(nil)
            case 0x04, 0x14: constants.append(try string())  // short, long string
            default: throw Malformed()
            }
        }
        let upvalueCount = try size()
        try skip(3 * upvalueCount)
        for _ in 0..<(try size()) { try function() }
        // Debug info: relative lines, absolute lines, locals, upvalue names.
        let lineInfoCount = try size()
        let lineInfo = Array(bytes[i..<min(bytes.count, i + lineInfoCount)])
        try skip(lineInfoCount)
        var absolute: [Int: Int] = [:]
        for _ in 0..<(try size()) {
            let pc = try size()
            absolute[pc] = try size()
        }
        for _ in 0..<(try size()) {
            if let local = try string(), !local.hasPrefix("(") { locals.insert(local) }
            _ = try size()
            _ = try size()
        }
        var upvalueNames: [String?] = []
        for _ in 0..<(try size()) { upvalueNames.append(try string()) }

        var lines: [Int] = []
        var line = lineDefined
        for pc in 0..<code.count {
            if pc < lineInfo.count {
                let delta = Int(Int8(bitPattern: lineInfo[pc]))
                line = delta == -128 ? (absolute[pc] ?? line) : line + delta
            }
            lines.append(line)
        }
        func isEnv(_ upvalue: UInt32) -> Bool {
            Int(upvalue) < upvalueNames.count && upvalueNames[Int(upvalue)] == "_ENV"
        }
        func constant(_ k: UInt32) -> String? { Int(k) < constants.count ? constants[Int(k)] : nil }
        for (pc, ins) in code.enumerated() {
            let op = ins & 0x7f, a = (ins >> 7) & 0xff, b = (ins >> 16) & 0xff, c = (ins >> 24) & 0xff
            switch op {
            case DumpReader.getTabUp where isEnv(b):
                guard let name = constant(c) else { continue }
                var use = GlobalUse(name: name, line: lines[pc], isWrite: false)
                if pc + 1 < code.count {
                    let next = code[pc + 1]
                    let nop = next & 0x7f, na = (next >> 7) & 0xff, nb = (next >> 16) & 0xff
                    let nk = (next >> 15) & 1, nc = (next >> 24) & 0xff
                    if (nop == DumpReader.getField || (nop == DumpReader.selfOp && nk == 1)) && nb == a {
                        use.field = constant(nc)
                    } else if nop == DumpReader.setField && na == a {
                        use.field = constant(nb)
                        use.fieldIsWrite = true
                    } else if name == "require" && nop == DumpReader.loadK && na == a + 1, let module = constant(next >> 15) {
                        // require("x"): the name is loaded into the register after the function's.
                        requires.append((module, lines[pc]))
                    }
                }
                uses.append(use)
            case DumpReader.setTabUp where isEnv(a):
                guard let name = constant(b) else { continue }
                uses.append(GlobalUse(name: name, line: lines[pc], isWrite: true))
            default: continue
            }
        }
    }
}
