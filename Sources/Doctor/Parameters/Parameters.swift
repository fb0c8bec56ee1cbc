import LuaHost

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
            return .success(.text(text))
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
                return .table(table)
            }
        }
    }

    static func port(_ t: String) -> Result<Int, ParameterError> {
        guard let p = Int(t), (1...65535).contains(p) else {
            return .failure(.init(reason: "'\(t)' is not a TCP port (a number from 1 to 65535)"))
        }
        return .success(p)
    }

    static func host(_ t: String) -> Result<String, ParameterError> {
        guard !t.isEmpty else { return .failure(.init(reason: "the host name is empty")) }
        guard t.count <= 253, !t.contains(where: { $0.isWhitespace || $0 == "/" || $0 == "@" }) else {
            return .failure(.init(reason: "'\(t)' is not a host name or address"))
        }
        if t.contains(":") {  // an IPv6 address
            let ok = t.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." || $0 == "%" }
            return ok ? .success(t) : .failure(.init(reason: "'\(t)' is not a valid IPv6 address"))
        }
        let labels = t.split(separator: ".", omittingEmptySubsequences: false)
        let valid = labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        }
        return valid ? .success(t) : .failure(.init(reason: "'\(t)' is not a host name or address"))
    }

    /// "host", "host:port", "[v6]:port" or a bare IPv6 address.
    static func endpoint(_ t: String) -> Result<(String, Int?), ParameterError> {
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
    public var config: [String: String] = [:]
    public var configFile: String?
    public var environment: [String: String] = [:]
    public var commandLine: [(key: String, value: String)] = []
    public var peer: String?

    public init() {}

    /// The config file's `key = value` lines; `pack.key` lines apply to that pack only.
    public static func readConfig(_ text: String, pack: String) -> [String: String] {
        var values: [String: String] = [:]
        for raw in text.split(separator: "\n") {
            let line = String(raw).trimmed
            guard !line.isEmpty, !line.hasPrefix("#"), let eq = line.firstIndex(of: "=") else { continue }
            var key = String(line[..<eq]).trimmed
            let value = String(line[line.index(after: eq)...]).trimmed
            if let dot = key.firstIndex(of: ".") {
                guard key[..<dot] == pack else { continue }
                key = String(key[key.index(after: dot)...])
            }
            values[key] = value
        }
        return values
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
        for (k, v) in sources.config where specs[k] != nil {
            chosen[k] = (v, "config file \(sources.configFile ?? "")")
            kinds[k] = "config"
        }
        for spec in manifest.parameters {
            let variable = "PORTDOCTOR_PARAM_" + spec.name.uppercased().replacing("-", with: "_")
            if let v = sources.environment[variable] {
                chosen[spec.name] = (v, variable)
                kinds[spec.name] = "environment"
            }
        }
        for (k, v) in sources.commandLine {
            guard specs[k] != nil else {
                let known = manifest.parameters.map(\.name)
                return .failure(
                    .init(
                        reason: "pack '\(manifest.id)' has no parameter '\(k)'\(Suggest.hint(k, known))"
                            + (known.isEmpty ? "" : "; its parameters are \(known.joined(separator: ", "))")))
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
    var trimmed: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }
}
