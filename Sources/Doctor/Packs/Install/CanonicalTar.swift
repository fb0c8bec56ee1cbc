/// A deterministic tar (POSIX ustar) of regular files: every header field that is not the name or
/// the size is fixed (mode 0644, owner 0, time 0), padding is zeros and the archive ends with exactly
/// two zero blocks. The reader rebuilds each header from its name and size and compares it byte for
/// byte, so that every byte of an archive is either signed content or checked structure: a flipped
/// byte anywhere is an error, never silently accepted. `tar tf FILE` lists such an archive.
enum CanonicalTar {
    static let block = 512
    /// Names longer than the ustar name field would need the prefix field: packs don't need them.
    static let maxName = 100

    struct Entry: Equatable {
        var name: String
        var data: [UInt8]
    }

    static func write(_ entries: [Entry]) throws(PackArchiveError) -> [UInt8] {
        var out: [UInt8] = []
        for e in entries {
            out += try header(name: e.name, size: e.data.count)
            out += e.data
            out += [UInt8](repeating: 0, count: padding(e.data.count))
        }
        out += [UInt8](repeating: 0, count: 2 * block)
        return out
    }

    static func read(_ bytes: [UInt8]) throws(PackArchiveError) -> [Entry] {
        var entries: [Entry] = []
        var at = 0
        while true {
            guard at + block <= bytes.count else { throw .malformed("it ends in the middle of a block") }
            let head = Array(bytes[at..<(at + block)])
            if head.allSatisfy({ $0 == 0 }) {
                // The end: exactly one more zero block, then nothing.
                guard bytes.count == at + 2 * block, bytes[(at + block)...].allSatisfy({ $0 == 0 }) else {
                    throw .malformed("there is data after its end")
                }
                return entries
            }
            let nameBytes = head[0..<maxName].prefix { $0 != 0 }
            guard let name = String(validating: nameBytes, as: UTF8.self) else {
                throw .malformed("an entry's name is not UTF-8")
            }
            let sizeField = head[124..<135]
            guard sizeField.allSatisfy({ (0x30...0x37).contains($0) }),
                let size = Int(String(decoding: sizeField, as: UTF8.self), radix: 8)
            else { throw .malformed("the entry '\(name)' has a bad size field") }
            guard try header(name: name, size: size) == head else {
                throw .malformed("the header of '\(name)' is not as portdoctor writes it (changed?)")
            }
            at += block
            let end = at + size + padding(size)
            guard end <= bytes.count else { throw .malformed("the entry '\(name)' is cut short") }
            entries.append(Entry(name: name, data: Array(bytes[at..<(at + size)])))
            guard bytes[(at + size)..<end].allSatisfy({ $0 == 0 }) else {
                throw .malformed("the padding after '\(name)' is not zeros (changed?)")
            }
            at = end
        }
    }

    private static func padding(_ size: Int) -> Int { (block - size % block) % block }

    private static func header(name: String, size: Int) throws(PackArchiveError) -> [UInt8] {
        let nameBytes = Array(name.utf8)
        guard !nameBytes.isEmpty, nameBytes.count <= maxName, !nameBytes.contains(0) else {
            throw .malformed("the path '\(name)' is empty or longer than \(maxName) bytes")
        }
        guard size < 0o77777777777 else { throw .malformed("'\(name)' is too large") }
        var h = [UInt8](repeating: 0, count: block)
        func put(_ text: String, at offset: Int) {
            for (i, b) in text.utf8.enumerated() { h[offset + i] = b }
        }
        func octal(_ value: Int, width: Int) -> String {
            let digits = String(value, radix: 8)
            return String(repeating: "0", count: width - digits.count) + digits
        }
        h.replaceSubrange(0..<nameBytes.count, with: nameBytes)
        put("0000644", at: 100)
        put("0000000", at: 108)
        put("0000000", at: 116)
        put(octal(size, width: 11), at: 124)
        put("00000000000", at: 136)
        h[156] = UInt8(ascii: "0")
        put("ustar", at: 257)
        put("00", at: 263)
        // The checksum is computed with its own field read as eight spaces.
        for i in 148..<156 { h[i] = UInt8(ascii: " ") }
        let sum = h.reduce(0) { $0 + Int($1) }
        put(octal(sum, width: 6), at: 148)
        h[154] = 0
        h[155] = UInt8(ascii: " ")
        return h
    }
}
