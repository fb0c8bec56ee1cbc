import LuaHost
import Probes

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

public struct ParameterError: Error, Sendable, Equatable {
    public var reason: String
}

/// Typed parameter values: text in (command line, environment, config file), Lua values out.
public enum ParameterValue {
    public static func parse(_ text: String, as spec: ParameterSpec) -> Result<LuaValue, ParameterError> {
        let t = text.trimmed
        switch spec.type {
        case .port:
            return port(t).map { .integer(Int64($0)) }
        case .integer:
            guard let i = Int64(t) else { return .failure(.init(reason: "'\(t)' is not a whole number")) }
            return .success(.integer(i))
        case .boolean:
            switch t.lowercased() {
            case "true", "yes", "on", "1": return .success(true)
            case "false", "no", "off", "0": return .success(false)
            default: return .failure(.init(reason: "'\(t)' is not true or false (yes/no, on/off, 1/0 work too)"))
            }
        case .string:
            return .success(.text(t))
        case .choice(let choices):
            guard choices.contains(t) else {
                return .failure(
                    .init(reason: "'\(t)' is not one of \(choices.joined(separator: ", "))\(Suggest.hint(t, choices))"))
            }
            return .success(.text(t))
        case .host:
            return host(t).map { .text($0) }
        case .endpoint:
            return endpoint(t).map { host, port in
                var table = LuaTable()
                table["host"] = .text(host)
                if let port { table["port"] = .integer(Int64(port)) }
                table["text"] = .text(Self.endpointText(host: host, port: port))
                return .table(table)
            }
        }
    }

    static func port(_ t: String) -> Result<Int, ParameterError> {
        guard let p = Int(t), PortNumber.from(p) != nil else {
            return .failure(.init(reason: "'\(t)' is not a TCP port (a number from \(PortNumber.words()))"))
        }
        return .success(p)
    }

    static func host(_ t: String) -> Result<String, ParameterError> {
        guard !t.isEmpty else { return .failure(.init(reason: "the host name is empty")) }
        guard t.count <= 253, !t.contains(where: { $0.isWhitespace || $0 == "/" || $0 == "@" }) else {
            return .failure(.init(reason: "'\(t)' is not a host name or address"))
        }
        if t.contains(":") {  // an IPv6 address, perhaps with a zone (fe80::1%eth0)
            let address = t.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
            var bytes = in6_addr()
            let ok = inet_pton(AF_INET6, String(address[0]), &bytes) == 1 && (address.count == 1 || !address[1].isEmpty)
            return ok ? .success(t) : .failure(.init(reason: "'\(t)' is not a valid IPv6 address"))
        }
        let labels = t.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count == 4, labels.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) {
            var bytes = in_addr()
            guard inet_pton(AF_INET, t, &bytes) == 1 else {
                return .failure(.init(reason: "'\(t)' is not a valid IPv4 address"))
            }
            return .success(t)
        }
        let valid = labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        }
        return valid ? .success(t) : .failure(.init(reason: "'\(t)' is not a host name or address"))
    }

    /// How an endpoint is written back to a person: `[::1]:4242` for IPv6, `host:4242` otherwise.
    public static func endpointText(host: String, port: Int?) -> String {
        guard let port else { return host }
        return SocketAddress.text(host: host, port: port)
    }

    /// "host", "host:port", "[v6]:port" or a bare IPv6 address.
    public static func endpoint(_ t: String) -> Result<(String, Int?), ParameterError> {
        var hostPart = t
        var portPart: String?
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]") else {
                return .failure(.init(reason: "'\(t)' opens '[' without closing it"))
            }
            hostPart = String(t[t.index(after: t.startIndex)..<close])
            let rest = t[t.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else {
                    return .failure(.init(reason: "expected ':port' after ']' in '\(t)'"))
                }
                portPart = String(rest.dropFirst())
            }
        } else if t.filter({ $0 == ":" }).count == 1, let colon = t.firstIndex(of: ":") {
            hostPart = String(t[..<colon])
            portPart = String(t[t.index(after: colon)...])
        }
        switch host(hostPart) {
        case .failure(let e): return .failure(e)
        case .success(let h):
            guard let portPart else { return .success((h, nil)) }
            return port(portPart).map { (h, $0) }
        }
    }
}

/// Where parameter values come from, lowest precedence first: the pack's defaults, the user's
/// config file, `PORTDOCTOR_PARAM_<NAME>` environment variables, then `--param` and `--peer`.
public struct ParameterSources: Sendable {
    public var config: ConfigFile?
    public var environment: [String: String] = [:]
    public var commandLine: [(key: String, value: String)] = []
    public var peer: String?
    /// `run --with`'s host: the peer when the pack takes one and no other source set it.
    public var partner: String?
    /// The other packs there are, with their parameters: a config line or an environment variable
    /// for one of them is not a mistake in this run, a name no pack takes is.
    public var otherPacks: [String: Set<String>] = [:]

    public init() {}

    public static let environmentPrefix = "PORTDOCTOR_PARAM_"
}

/// The config file: `key = value` lines, `#` comments, and `pack.key = value` for one pack only.
/// A line that is not one of those is an error naming the file and line: a setting the person
/// wrote must never be silently ignored.
public struct ConfigFile: Sendable {
    public struct Entry: Sendable, Equatable {
        /// The pack the line is scoped to (`crashplan.port`), or nil for every pack.
        public var pack: String?
        public var key: String
        public var value: String
        public var line: Int
    }

    public var path: String
    public var entries: [Entry]

    public init(path: String, entries: [Entry]) {
        self.path = path
        self.entries = entries
    }

    public static func parse(_ text: String, path: String) -> Result<ConfigFile, ParameterError> {
        var entries: [Entry] = []
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = String(raw).trimmed
            if line.isEmpty || line.hasPrefix("#") { continue }
            let at = "\(path):\(index + 1)"
            guard let eq = line.firstIndex(of: "=") else {
                return .failure(.init(reason: "\(at): expected 'key = value' (or 'pack.key = value'), got '\(line)'"))
            }
            var key = String(line[..<eq]).trimmed
            let value = unquoted(withoutComment(String(line[line.index(after: eq)...]).trimmed))
            var pack: String?
            if let dot = key.firstIndex(of: ".") {
                pack = String(key[..<dot])
                key = String(key[key.index(after: dot)...])
            }
            let name = { (s: String) in !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" } }
            guard name(key), pack.map(name) ?? true else {
                return .failure(.init(reason: "\(at): '\(String(line[..<eq]).trimmed)' is not a parameter name"))
            }
            entries.append(Entry(pack: pack, key: key, value: value, line: index + 1))
        }
        return .success(ConfigFile(path: path, entries: entries))
    }

    /// `port = 4243  # the new one`: a `#` after a space starts a comment, outside quotes.
    static func withoutComment(_ v: String) -> String {
        if let quote = v.first, quote == "\"" || quote == "'",
            let close = v.dropFirst().firstIndex(of: quote)
        {
            let rest = String(v[v.index(after: close)...]).trimmed
            if rest.isEmpty || rest.hasPrefix("#") { return String(v[...close]) }
            return v
        }
        var previous: Character = " "
        for i in v.indices {
            if v[i] == "#" && (previous == " " || previous == "\t") { return String(v[..<i]).trimmed }
            previous = v[i]
        }
        return v
    }

    /// `"a b"` and `'a b'` are the text inside: people quote values out of habit.
    static func unquoted(_ v: String) -> String {
        guard v.count >= 2, let first = v.first, first == "\"" || first == "'", v.last == first else { return v }
        return String(v.dropFirst().dropLast())
    }
}

public struct ResolvedParameters: Sendable {
    public var values: [String: LuaValue]
    /// The value as text, for reports; a secret parameter's value is masked.
    public var texts: [String: String]
    /// Where each value came from, for reports: `default`, `config`, `environment` or `command-line`.
    public var sources: [String: String] = [:]
    /// Required parameters that have no value (only when resolving for a plan, not a run).
    public var missing: [String] = []
    public var table: LuaValue {
        .table(LuaTable(fields: Dictionary(uniqueKeysWithValues: values.map { (.text($0.key), $0.value) })))
    }
}

public enum ParameterResolver {
    /// The values for a run. With `allowMissing` (`show`, which only plans), a required parameter
    /// without a value is listed in `missing` instead of being an error.
    public static func resolve(_ manifest: PackManifest, _ sources: ParameterSources, allowMissing: Bool = false)
        -> Result<ResolvedParameters, ParameterError>
    {
        let specs = Dictionary(uniqueKeysWithValues: manifest.parameters.map { ($0.name, $0) })
        var chosen: [String: (text: String, from: String)] = [:]
        var kinds: [String: String] = [:]
        for spec in manifest.parameters {
            if let d = spec.defaultText {
                chosen[spec.name] = (d, "default")
                kinds[spec.name] = "default"
            }
        }
        let known = manifest.parameters.map(\.name)
        let listing = known.isEmpty ? "it has no parameters" : "its parameters are \(known.joined(separator: ", "))"
        let elsewhere = sources.otherPacks.values.reduce(into: Set<String>()) { $0.formUnion($1) }
        if let config = sources.config {
            let packs = Array(sources.otherPacks.keys) + [manifest.id]
            for entry in config.entries {
                let at = "\(config.path):\(entry.line)"
                if let pack = entry.pack, pack != manifest.id {
                    guard let theirs = sources.otherPacks[pack] else {
                        return .failure(.init(reason: "\(at): there is no pack named '\(pack)'\(Suggest.hint(pack, packs))"))
                    }
                    guard theirs.contains(entry.key) else {
                        return .failure(
                            .init(
                                reason:
                                    "\(at): pack '\(pack)' has no parameter '\(entry.key)'\(Suggest.hint(entry.key, Array(theirs)))"
                            ))
                    }
                    continue
                }
                guard specs[entry.key] != nil else {
                    // A line for every pack that some other pack takes (`peer = …`) does not apply here.
                    if entry.pack == nil && elsewhere.contains(entry.key) { continue }
                    let scope = entry.pack == nil ? "" : " (a line for pack '\(manifest.id)')"
                    return .failure(
                        .init(
                            reason:
                                "\(at): pack '\(manifest.id)' has no parameter '\(entry.key)'\(scope)"
                                + "\(Suggest.hint(entry.key, known + elsewhere.sorted())); \(listing)"))
                }
                chosen[entry.key] = (entry.value, at)
                kinds[entry.key] = "config"
            }
        }
        let variables = Dictionary(
            uniqueKeysWithValues: manifest.parameters.map {
                (ParameterSources.environmentPrefix + $0.name.uppercased().replacing("-", with: "_"), $0.name)
            })
        let variablesElsewhere = Set(
            elsewhere.map { ParameterSources.environmentPrefix + $0.uppercased().replacing("-", with: "_") })
        for (variable, value) in sources.environment.sorted(by: { $0.key < $1.key })
        where variable.hasPrefix(ParameterSources.environmentPrefix) {
            guard let name = variables[variable] else {
                if variablesElsewhere.contains(variable) { continue }
                return .failure(
                    .init(
                        reason:
                            "environment variable \(variable): no pack takes such a parameter"
                            + "\(Suggest.hint(variable, Array(variables.keys))); pack '\(manifest.id)': \(listing)"))
            }
            chosen[name] = (value, variable)
            kinds[name] = "environment"
        }
        for (key, v) in sources.commandLine {
            let k = key.trimmed
            guard specs[k] != nil else {
                return .failure(
                    .init(reason: "pack '\(manifest.id)' has no parameter '\(k)'\(Suggest.hint(k, known)); \(listing)"))
            }
            chosen[k] = (v, "--param \(k)=\(specs[k]!.secret ? "…" : v)")
            kinds[k] = "command-line"
        }
        if let peer = sources.peer {
            guard specs["peer"] != nil else {
                return .failure(
                    .init(reason: "pack '\(manifest.id)' does not take --peer (it has no 'peer' parameter)"))
            }
            chosen["peer"] = (peer, "--peer \(peer)")
            kinds["peer"] = "command-line"
        }
        // `run --with HOST`: the partner is the peer (over the config file), unless the command line names another.
        if let partner = sources.partner, specs["peer"] != nil, sources.peer == nil, kinds["peer"] != "command-line" {
            chosen["peer"] = (partner, "--with \(partner)")
            kinds["peer"] = "command-line"
        }
        var values: [String: LuaValue] = [:]
        var texts: [String: String] = [:]
        var missing: [String] = []
        for spec in manifest.parameters {
            guard let (text, from) = chosen[spec.name] else {
                if spec.required && allowMissing {
                    missing.append(spec.name)
                } else if spec.required {
                    return .failure(
                        .init(
                            reason:
                                "parameter '\(spec.name)' is required: \(spec.doc) (give it with --param \(spec.name)=…)"
                        ))
                }
                continue
            }
            switch ParameterValue.parse(text, as: spec) {
            case .success(let v):
                values[spec.name] = v
                texts[spec.name] = spec.secret ? "(secret)" : text
            case .failure(let e):
                let reason = spec.secret ? "not a valid \(spec.type)" : e.reason
                return .failure(
                    .init(
                        reason: "\(from): \(reason). '\(spec.name)' (\(spec.type)): \(spec.doc)"
                            + (spec.defaultText.map { " (default \($0))" } ?? "")))
            }
        }
        return .success(
            ResolvedParameters(
                values: values, texts: texts, sources: kinds.filter { values[$0.key] != nil }, missing: missing))
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    public var trimmed: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }
}
