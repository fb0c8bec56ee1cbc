/// Lua's pattern matcher backtracks in C, where the instruction hook never fires: a pattern such as
/// ".-.-.-x" on a long subject can run for hours. Before a pattern function runs, this estimates
/// the worst-case number of matcher steps for *this* subject, and the sandbox refuses the call
/// when the estimate is over budget.
///
/// The estimate follows how the matcher works. A match is tried at every start position where
/// the pattern's literal prefix occurs (elsewhere it fails within a few bytes). From a start, a
/// quantified item walks at most the longest run of bytes its class matches; at each position it
/// walks over, the rest of the pattern is tried — and that rest gets past its first byte only where
/// a following literal byte occurs. So the work per start is the sum, over items, of each item's
/// walk times the number of ways the items before it could have stopped.
public enum PatternCost {
    /// About half a second: Lua's matcher backtracks at ~5 ns a step on this machine (measured with
    /// `.-b` over 14,142 bytes: 1e8 steps, 0.47 s).
    public static let defaultBudget: Double = 1e8

    /// How the string library will use the pattern: the functions differ in what '^' means and in
    /// whether a pattern without special characters is searched for as plain text.
    public enum Use: String, Sendable {
        /// `string.find` with `plain` set (or a pattern without special characters).
        case plainFind = "plain"
        case find, match, gsub
        /// `string.gmatch` treats a leading '^' as a literal byte, not as an anchor.
        case gmatch
    }

    /// A reason to refuse, or nil when the pattern may run.
    public static func refusal(
        subject: UnsafeRawBufferPointer, pattern: [UInt8], initialPosition: Int64?, use: Use = .find,
        budget: Double = defaultBudget
    ) -> String? {
        let start = startOffset(initialPosition, length: subject.count)
        let body = UnsafeRawBufferPointer(rebasing: subject[start...])
        let cost: Double?
        if use == .plainFind || (use == .find && !hasSpecials(pattern)) {
            cost = plainSearchCost(subject: body, needle: pattern, budget: budget)
        } else {
            cost = estimate(subject: body, pattern: pattern, caretIsLiteral: use == .gmatch, budget: budget)
        }
        guard let cost, cost > budget else { return nil }
        return "pattern '\(String(decoding: pattern.prefix(60), as: UTF8.self))' could take too long on a "
            + "\(body.count)-byte subject (about \(formatted(cost)) matching steps, limit \(formatted(budget))); "
            + "anchor it with '^', make it more specific, or split the text into lines first"
    }

    /// What the cheap first bound of `estimate` needs, which depends on the pattern alone: the sandbox
    /// keeps it per pattern, so most calls (short text, simple patterns) never reach the host.
    /// Nil for a malformed pattern.
    public struct Shape: Equatable, Sendable {
        /// Searched for as plain text: the bound is n + n·m/16.
        public var plain: Bool
        /// Items that may walk the subject (quantified with '*', '+' or '-', %b, back references).
        public var branching: Int
        /// Items quantified with '?'.
        public var optional: Int
        public var items: Int
        public var perStep: Double

        /// The same bound `estimate` and `plainSearchCost` start from, for a subject of n bytes.
        public func crudeBound(subjectLength n: Int, patternLength m: Int) -> Double {
            let n = Double(n)
            if plain { return n + n * Double(m) / 16 }
            return PatternCost.pow(n + 1, Double(branching + 1)) * PatternCost.pow(2, Double(optional))
                * Double(items + 1) * perStep
        }
    }

    public static func shape(pattern: [UInt8], use: Use) -> Shape? {
        if use == .plainFind || (use == .find && !hasSpecials(pattern)) {
            return Shape(plain: true, branching: 0, optional: 0, items: 0, perStep: 1)
        }
        guard let parsed = ParsedPattern(pattern, caretIsLiteral: use == .gmatch) else { return nil }
        let items = parsed.items
        return Shape(
            plain: false,
            branching: items.filter { $0.quantifier.branches || $0.kind == .balance || $0.kind == .backReference }
                .count,
            optional: items.filter { $0.quantifier == .optional }.count, items: items.count,
            perStep: max(1, Double(parsed.longestSet) / 16))
    }

    /// Lua's `nospecials`: a pattern without these bytes is searched for as plain text by `find`.
    static func hasSpecials(_ pattern: [UInt8]) -> Bool {
        pattern.contains { "^$*+?.([%-".utf8.contains($0) }
    }

    /// Plain search (`lmemfind`) compares the needle at every position where its first byte occurs:
    /// quadratic when subject and needle share long runs. memcmp is far cheaper than a matcher step,
    /// so compared bytes count a sixteenth of a step each.
    static func plainSearchCost(subject s: UnsafeRawBufferPointer, needle: [UInt8], budget: Double) -> Double {
        let n = Double(s.count)
        guard needle.count > 1, needle.count <= s.count else { return n }
        let candidates = UnsafeRawBufferPointer(rebasing: s[...(s.count - needle.count)])
        let quick = Double(count(ByteSet(needle[0]), in: candidates)) * Double(needle.count) / 16
        if n + quick <= budget { return n + quick }
        return n + Double(prefixMatches(needle, in: s, positions: candidates.count).total) / 16
    }

    /// Worst-case steps, or nil for a malformed pattern (Lua then reports the error itself).
    /// `caretIsLiteral` is for `gmatch`, where a leading '^' is an ordinary byte.
    public static func estimate(
        subject: UnsafeRawBufferPointer, pattern: [UInt8], caretIsLiteral: Bool = false,
        budget: Double = defaultBudget
    ) -> Double? {
        guard let parsed = ParsedPattern(pattern, caretIsLiteral: caretIsLiteral),
            let shape = shape(pattern: pattern, use: caretIsLiteral ? .gmatch : .match)
        else { return nil }
        let n = Double(subject.count)
        let items = parsed.items
        // A cheap bound first: most calls are short subjects or simple patterns. Every start pays at
        // most one walk of up to n + 1 bytes for each branching item (and for each %b or back
        // reference), times the ways the items before it could have stopped.
        let crude = shape.crudeBound(subjectLength: subject.count, patternLength: pattern.count)
        if crude <= budget { return crude }
        // Lua tests a byte against a set ('[...]') by reading the set's text: a long set makes every
        // step slower in proportion.
        let perStep = shape.perStep

        var starts = n + 1
        var scan = 0.0  // steps spent where a literal prefix matches only in part
        if parsed.anchored {
            starts = 1
        } else {
            let literals = items.prefix { $0.kind == .single && $0.quantifier == .one }
            let prefix = literals.compactMap(\.set.single)
            if !prefix.isEmpty && prefix.count == literals.count {
                let matches = prefixMatches(prefix, in: subject, positions: subject.count)
                starts = Double(matches.full) + 1
                scan = Double(matches.total)
            } else if let first = items.first, first.kind == .balance || !first.quantifier.allowsEmpty,
                first.kind != .backReference && first.kind != .marker
            {
                // a start fails at once where the first byte is not one the item needs (%b: its opener)
                starts = Double(count(first.set, in: subject)) + 1
            }
        }
        // Captures and frontiers are zero-width: past the last real item the match has succeeded.
        let last = items.lastIndex { $0.kind != .marker }
        var ways = 1.0  // ways the items so far could have stopped
        var work = 0.0  // steps per start
        var consumed = 0.0  // steps that successful matches spend, n at most in all
        for (i, item) in items.enumerated() {
            if i == last, !parsed.anchoredAtEnd, item.kind == .single, item.quantifier.branches {
                // Reaching the last item means the match succeeds: a greedy one walks bytes the
                // match then consumes, a lazy one stops at once.
                consumed = n
                work += ways
                continue
            }
            let walk: Double
            var stops = 1.0
            switch (item.kind, item.quantifier) {
            case (.balance, _), (.backReference, _):
                walk = n + 1
            case (.single, .optional):
                walk = 2
                stops = 2
            case (.single, let q) where q.branches:
                walk = Double(longestRun(item.set, in: subject)) + 1
                stops = walk
                if let next = items[(i + 1)...].first(where: { $0.kind != .marker }), next.kind == .single,
                    !next.quantifier.allowsEmpty, let literal = next.set.single
                {
                    stops = min(stops, Double(count(ByteSet(literal), in: subject)) + 1)
                }
            default:
                walk = 1
            }
            work += ways * walk
            ways *= stops
            if work > 1e30 || ways > 1e30 { return 1e30 }
        }
        return (n + scan + consumed + starts * work) * perStep
    }

    /// Over the first `positions` positions of `s`: the sum of how many leading bytes of `needle`
    /// match there (what comparing the needle at every position costs), and how many positions hold
    /// all of it. Linear time (Z-algorithm), so the estimate never costs what the search would.
    static func prefixMatches(_ needle: [UInt8], in s: UnsafeRawBufferPointer, positions: Int) -> (
        total: Int, full: Int
    ) {
        let m = needle.count
        guard m > 0 else { return (0, 0) }
        var z = [Int](repeating: 0, count: m)
        z[0] = m
        var l = 0
        var r = 0
        for i in 1..<max(m, 1) {
            var k = i < r ? min(z[i - l], r - i) : 0
            while i + k < m && needle[k] == needle[i + k] { k += 1 }
            z[i] = k
            if i + k > r { (l, r) = (i, i + k) }
        }
        var total = 0
        var full = 0
        l = 0
        r = 0
        for i in 0..<min(positions, s.count) {
            var k = i < r ? min(z[i - l], r - i) : 0
            if i + k >= r {
                while k < m && i + k < s.count && s[i + k] == needle[k] { k += 1 }
                if i + k > r { (l, r) = (i, i + k) }
            }
            total += k
            if k == m { full += 1 }
        }
        return (total, full)
    }

    static func startOffset(_ initial: Int64?, length: Int) -> Int {
        guard let initial else { return 0 }
        if initial > 0 { return Int(min(initial - 1, Int64(length))) }
        if initial == 0 { return 0 }
        return max(0, length + Int(max(initial, -Int64(length))))
    }

    private static func count(_ set: ByteSet, in s: UnsafeRawBufferPointer) -> Int {
        var c = 0
        for b in s where set.contains(b) { c += 1 }
        return c
    }

    private static func longestRun(_ set: ByteSet, in s: UnsafeRawBufferPointer) -> Int {
        var best = 0
        var run = 0
        for b in s {
            if set.contains(b) {
                run += 1
                best = max(best, run)
            } else {
                run = 0
            }
        }
        return best
    }

    static func pow(_ x: Double, _ y: Double) -> Double {
        var r = 1.0
        for _ in 0..<Int(y) {
            r *= x
            if r > 1e30 { return r }
        }
        return r
    }

    private static func formatted(_ x: Double) -> String {
        if x >= 1e30 { return "more than 1e30" }
        var exponent = 0
        var m = x
        while m >= 10 {
            m /= 10
            exponent += 1
        }
        return "\(Int(m.rounded(.down)))e\(exponent)"
    }
}

/// A set of bytes, 256 bits.
struct ByteSet: Equatable {
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    init() {}
    init(_ byte: UInt8) { insert(byte) }
    init(where predicate: (UInt8) -> Bool) {
        for b in 0...255 where predicate(UInt8(b)) { insert(UInt8(b)) }
    }

    static func == (a: ByteSet, b: ByteSet) -> Bool { a.words == b.words }

    func contains(_ b: UInt8) -> Bool {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: return words.0 & bit != 0
        case 1: return words.1 & bit != 0
        case 2: return words.2 & bit != 0
        default: return words.3 & bit != 0
        }
    }

    mutating func insert(_ b: UInt8) {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        default: words.3 |= bit
        }
    }

    mutating func formUnion(_ other: ByteSet) {
        words.0 |= other.words.0
        words.1 |= other.words.1
        words.2 |= other.words.2
        words.3 |= other.words.3
    }

    var inverted: ByteSet {
        var s = ByteSet()
        s.words = (~words.0, ~words.1, ~words.2, ~words.3)
        return s
    }

    /// The one byte in the set, if it has exactly one.
    var single: UInt8? {
        let total =
            words.0.nonzeroBitCount + words.1.nonzeroBitCount + words.2.nonzeroBitCount
            + words.3.nonzeroBitCount
        guard total == 1 else { return nil }
        return (0...255).lazy.map { UInt8($0) }.first { contains($0) }
    }

    /// Lua's %a, %d … classes (C locale); an upper-case letter is the complement.
    static func luaClass(_ letter: UInt8) -> ByteSet? {
        let lower = letter | 0x20
        let isAlpha: (UInt8) -> Bool = { (65...90).contains($0) || (97...122).contains($0) }
        let isDigit: (UInt8) -> Bool = { (48...57).contains($0) }
        let base: ByteSet
        switch lower {
        case UInt8(ascii: "a"): base = ByteSet(where: isAlpha)
        case UInt8(ascii: "c"): base = ByteSet(where: { $0 < 32 || $0 == 127 })
        case UInt8(ascii: "d"): base = ByteSet(where: isDigit)
        case UInt8(ascii: "g"): base = ByteSet(where: { (33...126).contains($0) })
        case UInt8(ascii: "l"): base = ByteSet(where: { (97...122).contains($0) })
        case UInt8(ascii: "p"): base = ByteSet(where: { (33...126).contains($0) && !isAlpha($0) && !isDigit($0) })
        case UInt8(ascii: "s"): base = ByteSet(where: { (9...13).contains($0) || $0 == 32 })
        case UInt8(ascii: "u"): base = ByteSet(where: { (65...90).contains($0) })
        case UInt8(ascii: "w"): base = ByteSet(where: { isAlpha($0) || isDigit($0) })
        case UInt8(ascii: "x"): base = ByteSet(where: { isDigit($0) || (97...102).contains($0 | 0x20) })
        default: return nil
        }
        return letter == lower ? base : base.inverted
    }
}

/// A Lua pattern reduced to what the cost estimate needs.
struct ParsedPattern {
    enum Quantifier {
        case one, star, plus, lazy, optional
        var branches: Bool { self == .star || self == .plus || self == .lazy }
        var allowsEmpty: Bool { self == .star || self == .lazy || self == .optional }
    }

    /// `marker`: a capture's '(' or ')', or a frontier: zero-width, one step each time it is reached.
    enum Kind { case single, balance, backReference, marker }

    struct Item {
        var kind: Kind
        var set: ByteSet
        var quantifier: Quantifier
    }

    var anchored = false
    var anchoredAtEnd = false
    var items: [Item] = []
    /// The length of the longest '[...]' in the pattern (frontiers included).
    var longestSet = 0

    init?(_ p: [UInt8], caretIsLiteral: Bool = false) {
        var i = 0
        if p.first == UInt8(ascii: "^"), !caretIsLiteral {
            anchored = true
            i = 1
        }
        while i < p.count {
            let c = p[i]
            switch c {
            case UInt8(ascii: "("), UInt8(ascii: ")"):
                items.append(Item(kind: .marker, set: ByteSet(), quantifier: .one))
                i += 1
                continue
            case UInt8(ascii: "$") where i == p.count - 1:
                anchoredAtEnd = true
                i += 1
                continue
            case UInt8(ascii: "%"):
                guard i + 1 < p.count else { return nil }
                let e = p[i + 1]
                if e == UInt8(ascii: "b") {
                    guard i + 3 < p.count else { return nil }
                    items.append(Item(kind: .balance, set: ByteSet(p[i + 2]), quantifier: .one))
                    i += 4
                    continue
                }
                if e == UInt8(ascii: "f") {
                    guard i + 2 < p.count, p[i + 2] == UInt8(ascii: "["), let end = ParsedPattern.setEnd(p, i + 2)
                    else { return nil }
                    longestSet = max(longestSet, end - i - 1)
                    items.append(Item(kind: .marker, set: ByteSet(), quantifier: .one))
                    i = end + 1
                    continue
                }
                if (48...57).contains(e) {
                    items.append(Item(kind: .backReference, set: ByteSet(), quantifier: .one))
                    i += 2
                    continue
                }
                let set = ByteSet.luaClass(e) ?? ByteSet(e)
                i += 2
                items.append(Item(kind: .single, set: set, quantifier: .one))
            case UInt8(ascii: "["):
                guard let end = ParsedPattern.setEnd(p, i) else { return nil }
                longestSet = max(longestSet, end - i + 1)
                items.append(Item(kind: .single, set: ParsedPattern.bracket(Array(p[i...end])), quantifier: .one))
                i = end + 1
            case UInt8(ascii: "."):
                items.append(Item(kind: .single, set: ByteSet().inverted, quantifier: .one))
                i += 1
            default:
                items.append(Item(kind: .single, set: ByteSet(c), quantifier: .one))
                i += 1
            }
            if i < p.count, items.last?.kind == .single {
                let q: Quantifier? =
                    switch p[i] {
                    case UInt8(ascii: "*"): .star
                    case UInt8(ascii: "+"): .plus
                    case UInt8(ascii: "-"): .lazy
                    case UInt8(ascii: "?"): .optional
                    default: nil
                    }
                if let q {
                    items[items.count - 1].quantifier = q
                    i += 1
                }
            }
        }
    }

    /// Index of the ']' closing the set that opens at `open`, with Lua's rules.
    static func setEnd(_ p: [UInt8], _ open: Int) -> Int? {
        var i = open + 1
        if i < p.count, p[i] == UInt8(ascii: "^") { i += 1 }
        repeat {
            guard i < p.count else { return nil }
            if p[i] == UInt8(ascii: "%") { i += 1 }
            i += 1
        } while i < p.count ? p[i] != UInt8(ascii: "]") : true
        return i
    }

    static func bracket(_ s: [UInt8]) -> ByteSet {
        var set = ByteSet()
        var i = 1
        var negate = false
        if s[i] == UInt8(ascii: "^") {
            negate = true
            i += 1
        }
        let end = s.count - 1
        while i < end {
            let c = s[i]
            if c == UInt8(ascii: "%"), i + 1 < s.count {
                set.formUnion(ByteSet.luaClass(s[i + 1]) ?? ByteSet(s[i + 1]))
                i += 2
            } else if i + 2 < end, s[i + 1] == UInt8(ascii: "-") {
                if c <= s[i + 2] { for b in c...s[i + 2] { set.insert(b) } }
                i += 3
            } else {
                set.insert(c)
                i += 1
            }
        }
        return negate ? set.inverted : set
    }
}
