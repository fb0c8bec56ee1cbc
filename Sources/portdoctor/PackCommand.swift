import ArgumentParser
import Doctor

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

/// `portdoctor pack …`: write, check, sign, install and remove packs. The work is done by the
/// engine (Doctor: PackScaffold, PackLinter, PackArchive, TrustStore, PackInstaller); this file only
/// turns arguments into calls and results into text.
struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Write, check, sign, install and remove check packs.",
        discussion: """
            Writing a pack:   pack new NAME, then pack lint ./NAME and portdoctor run ./NAME \
            Testing it:       pack test ./NAME (the cases in its tests/ folder, no network) \
            Shipping it:      pack keygen --name ACME --out acme; pack sign ./NAME --key acme.key \
            Installing it:    pack trust add acme.pub --name acme; pack install NAME-1.0.0.pdpack \
            See Docs/writing-checks.md and Docs/pack-signing.md.
            """,
        subcommands: [
            PackNewCommand.self, PackLintCommand.self, PackKeygenCommand.self, PackSignCommand.self,
            PackVerifyCommand.self, PackTrustCommand.self, PackInstallCommand.self, PackListCommand.self,
            PackRemoveCommand.self, PackTestCommand.self,
        ]
    )
}

/// The person's directories, or a clear refusal when there is no HOME to put them in.
enum PackEnvironment {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    static func directories() throws -> UserDirectories {
        guard let d = UserDirectories(environment: environment) else {
            throw Failure("neither HOME nor XDG_CONFIG_HOME/XDG_DATA_HOME is set: nowhere to keep packs and keys")
        }
        return d
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure("cannot read \(path)") }
        return Array(data)
    }

    static func readText(_ path: String) throws -> String {
        guard let text = String(validating: try read(path), as: UTF8.self) else {
            throw Failure("\(path) is not text")
        }
        return text
    }

    /// Runs an engine call, turning its refusal into portdoctor's one-line error (exit 2).
    @discardableResult
    static func engine<T>(_ body: () throws(PackArchiveError) -> T) throws -> T {
        do { return try body() } catch { throw Failure(error.description) }
    }
}

struct PackNewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Create a pack to start from: manifest, one check, one test case, editor settings.",
        discussion: """
            Writes ./NAME/pack.lua, ./NAME/port-range.lua, ./NAME/tests/system-port.json and, for the \
            Lua language server (LuaLS), ./NAME/.luarc.json with a copy of portdoctor's API stubs in \
            ./NAME/.luals/. The new pack passes `pack lint` and runs as it is:
              portdoctor run ./NAME
            """
    )

    @Argument(help: "The pack's id (lowercase letters, digits and '-'); also the folder's name.")
    var name: String

    @Option(help: ArgumentHelp("Create the folder in DIR instead of here.", valueName: "DIR"))
    var directory = "."

    func run() throws {
        let root = try PackEnvironment.engine { () throws(PackArchiveError) in
            try PackScaffold.create(id: name, in: directory)
        }
        print(
            """
            Created \(root)/
              pack.lua                 the manifest: id, version, parameters, causes, steps
              port-range.lua           the check (one per file, named in steps)
              tests/system-port.json   a test case: parameters, primitive answers, expected findings
              .luarc.json, .luals/     completion and checking in editors with the Lua language server
            Next: portdoctor pack lint \(root) && portdoctor run \(root)
            """)
    }
}

struct PackLintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint",
        abstract: "Check a pack without running it: load errors, plan problems, parameters, causes, unused files.",
        discussion: """
            Reports what `show` reports (for every platform and router vendor the pack's overlays name), \
            plus ctx.params fields no parameter declares, causes the pack does not declare, check files \
            that are not in steps, and overlays that never apply or change nothing. Each with file:line. \
            Exit code 2 when there are errors, 0 when there are none (warnings are printed).
            """
    )

    @Argument(help: "The pack folder (or its pack.lua).")
    var path: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        let problems = PackLinter.lint(path: path, environment: PackEnvironment.environment)
        let errors = problems.filter { $0.severity == .error }.count
        let warnings = problems.count - errors
        output.print(
            .object([
                "pack": .string(path), "errors": .int(Int64(errors)), "warnings": .int(Int64(warnings)),
                "problems": .array(
                    problems.map { p in
                        .object([
                            "severity": .string(p.severity.rawValue), "file": .string(p.file),
                            "line": p.line.map { .int(Int64($0)) } ?? .null, "message": .string(p.message),
                        ])
                    }),
            ])
        ) {
            (problems.map(\.description) + ["\(path): \(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")"])
                .joined(separator: "\n")
        }
        if errors > 0 { throw ExitCode(2) }
    }
}

struct PackKeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make an Ed25519 key pair for signing packs: PREFIX.key (secret) and PREFIX.pub.",
        discussion: """
            Keep PREFIX.key to yourself (it is written readable by you only); give PREFIX.pub to the \
            people who install your packs, by a way they trust (your website over HTTPS, a support \
            ticket), so they can add it: portdoctor pack trust add PREFIX.pub --name NAME
            """
    )

    @Option(help: "The publisher's name, recorded in the key and shown on install (e.g. \"ACME Routers\").")
    var name: String

    @Option(help: ArgumentHelp("Where to write the key pair: PREFIX.key and PREFIX.pub.", valueName: "PREFIX"))
    var out: String

    func validate() throws {
        guard !name.isEmpty, !name.contains("\n") else { throw ValidationError("--name must be one line of text") }
    }

    func run() throws {
        let secretPath = out + ".key", publicPath = out + ".pub"
        for path in [secretPath, publicPath] where FileManager.default.fileExists(atPath: path) {
            throw Failure("\(path) exists: portdoctor does not overwrite keys")
        }
        let key = SigningKey.generate(name: name)
        let fd = open(secretPath, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw Failure("cannot create \(secretPath): \(String(cString: strerror(errno)))") }
        let text = Array(key.fileText.utf8)
        let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == text.count else { throw Failure("cannot write \(secretPath)") }
        do { try Data(key.publicKey.fileText.utf8).write(to: URL(fileURLWithPath: publicPath)) } catch {
            throw Failure("cannot write \(publicPath): \(error)")
        }
        print("secret key: \(secretPath) (keep it private)")
        print("public key: \(publicPath)  \(key.publicKey.fingerprint)  \(name)")
    }
}

struct PackSignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Pack a folder into one signed archive file (ID-VERSION.pdpack).",
        discussion: """
            The pack must lint without errors. Every file of the folder goes in except hidden ones \
            (.luarc.json, .luals/). The archive is a plain tar: a MANIFEST listing each file's SHA-256, \
            a SIGNATURE (Ed25519 over the manifest) and the files under pack/. See Docs/pack-signing.md.
            """
    )

    @Argument(help: "The pack folder.")
    var directory: String

    @Option(help: ArgumentHelp("The secret key from `pack keygen`.", valueName: "KEYFILE"))
    var key: String?

    @Flag(help: "Make an archive without a signature (installing it asks, or needs --allow-untrusted).")
    var unsigned = false

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("The archive to write.", valueName: "FILE"))
    var output: String?

    @Flag(help: "Replace the archive when the file exists.")
    var force = false

    func validate() throws {
        if (key == nil) == !unsigned { throw ValidationError("give --key KEYFILE, or --unsigned for an unsigned archive") }
    }

    func run() throws {
        let problems = PackLinter.lint(path: directory, environment: PackEnvironment.environment)
        let errors = problems.filter { $0.severity == .error }
        guard errors.isEmpty else {
            throw Failure(
                "not signed: the pack has errors (portdoctor pack lint \(directory)):\n"
                    + errors.map(\.description).joined(separator: "\n"))
        }
        guard let folder = try? PackCatalog.folder(atPath: directory), let manifest = PackLinter.manifest(folder) else {
            throw Failure("\(directory): the pack's manifest does not load")
        }
        let signing = try key.map { path in
            try PackEnvironment.engine { () throws(PackArchiveError) in
                try SigningKey.parse(try PackEnvironment.readTextUnchecked(path), file: path)
            }
        }
        let files = try PackEnvironment.engine { () throws(PackArchiveError) in
            try PackArchive.collect(directory: URL(fileURLWithPath: directory))
        }
        let bytes = try PackEnvironment.engine { () throws(PackArchiveError) in
            try PackArchive.create(id: manifest.id, version: manifest.version, files: files, key: signing)
        }
        let path = output ?? "\(manifest.id)-\(manifest.version).\(PackArchive.fileExtension)"
        // An archive already there may be the signed one a person meant to ship.
        if FileManager.default.fileExists(atPath: path) && !force {
            throw Failure("\(path) exists: give --force to replace it, or -o FILE to write another")
        }
        do { try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw Failure("cannot write \(path): \(error)")
        }
        let by = signing.map { "signed by '\($0.name)' (\($0.publicKey.fingerprint))" } ?? "unsigned"
        print("\(path): \(manifest.id) \(manifest.version), \(files.count) files, \(by)")
    }
}

extension PackEnvironment {
    /// For the secret key file: its text, or the engine's own words when it cannot be read.
    static func readTextUnchecked(_ path: String) throws(PackArchiveError) -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(validating: Array(data), as: UTF8.self)
        else { throw .badKey("cannot read the key file \(path)") }
        return text
    }
}

struct PackVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a pack archive: every file against its hash, the signature, and whether you trust the key.",
        discussion: "Exit code 0 when it is intact and signed by a trusted key, 1 when intact but unsigned or untrusted, 2 when changed or not an archive."
    )

    @Argument(help: "The archive (.pdpack).")
    var file: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        let bytes = try PackEnvironment.read(file)
        let archive = try PackEnvironment.engine { () throws(PackArchiveError) in try PackArchive.verify(bytes) }
        let installer = PackInstaller(directories: try PackEnvironment.directories())
        let trust = installer.trust(of: archive)
        let m = archive.manifest
        output.print(
            .object([
                "pack": .string(m.id), "version": .string(m.version), "files": .int(Int64(m.files.count)),
                "publisher": m.publisher.map { .string($0.name) } ?? .null,
                "fingerprint": m.publisher.map { .string($0.fingerprint) } ?? .null,
                "trust": .string({ if case .trusted = trust { "trusted" } else { "\(trust)" } }()),
                "sha256": .string(archive.archiveSHA256),
            ])
        ) {
            var lines = ["\(file): \(m.id) \(m.version), \(m.files.count) files, every hash matches"]
            if let key = m.publisher {
                lines.append("signature: good, by '\(key.name)' \(key.fingerprint)")
            }
            lines.append("trust: \(trust)")
            if let why = PackInstaller.reason(trust, archive) { lines.append(why) }
            return lines.joined(separator: "\n")
        }
        if case .trusted = trust { return }
        throw ExitCode(1)
    }
}

struct PackTrustCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust",
        abstract: "The publisher keys you trust to sign packs.",
        subcommands: [PackTrustAdd.self, PackTrustList.self, PackTrustRemove.self]
    )

    struct PackTrustAdd: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Trust a publisher's public key (a .pub file from `pack keygen`).")
        @Argument(help: "The public key file.") var keyFile: String
        @Option(help: "Your name for this publisher (letters, digits, '-', '_', '.').") var name: String

        func run() throws {
            let key = try PackEnvironment.engine { () throws(PackArchiveError) in
                try PublisherKey.parse(try PackEnvironment.readTextUnchecked(keyFile), file: keyFile)
            }
            let store = TrustStore(directory: try PackEnvironment.directories().trustedKeys)
            try PackEnvironment.engine { () throws(PackArchiveError) in try store.add(key, name: name) }
            print("trusted '\(name)': \(key.fingerprint)\(key.name.isEmpty ? "" : " (the key calls itself '\(key.name)')")")
        }
    }

    struct PackTrustList: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the trusted keys.")
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = TrustStore(directory: try PackEnvironment.directories().trustedKeys)
            let entries = store.entries()
            output.print(
                .array(
                    entries.map {
                        .object([
                            "name": .string($0.name), "fingerprint": .string($0.key.fingerprint),
                        ])
                    })
            ) {
                entries.isEmpty
                    ? "no trusted keys (add one with: portdoctor pack trust add KEY.pub --name NAME)"
                    : entries.map { "\($0.name)  \($0.key.fingerprint)" }.joined(separator: "\n")
            }
        }
    }

    struct PackTrustRemove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove", abstract: "Stop trusting a key (installed packs stay; `pack list` shows them untrusted).")
        @Argument(help: "The name the key was added under.") var name: String

        func run() throws {
            let store = TrustStore(directory: try PackEnvironment.directories().trustedKeys)
            try PackEnvironment.engine { () throws(PackArchiveError) in try store.remove(name: name) }
            print("no longer trusted: \(name)")
        }
    }
}

struct PackInstallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Install a pack archive for this user, or replace an installed one with a newer version.",
        discussion: """
            An archive that was changed after signing is refused. One that is unsigned, or signed with a \
            key you have not trusted (pack trust add), is installed only after you say yes at the \
            terminal, or with --allow-untrusted. An older version than the installed one needs \
            --allow-downgrade. The switch to the new version is atomic: an interrupted install leaves \
            the old version in place. Packs go to $XDG_DATA_HOME/portdoctor/packs (~/.local/share/…), \
            which is on the search path: `portdoctor run ID` finds them.
            """
    )

    @Argument(help: "The archive (.pdpack).")
    var file: String

    @Flag(help: "Install even when the archive is unsigned or its key is not trusted.")
    var allowUntrusted = false

    @Flag(help: "Install even when a newer version is installed.")
    var allowDowngrade = false

    func run() throws {
        let bytes = try PackEnvironment.read(file)
        var installer = PackInstaller(directories: try PackEnvironment.directories())
        // For the interrupted-install test: the process dies between staging and the switch.
        if PackEnvironment.environment["PORTDOCTOR_TEST_KILL_BEFORE_COMMIT"] == "1" {
            installer.beforeCommit = { kill(getpid(), SIGKILL) }
        }
        var options = PackInstaller.Options()
        options.allowUntrusted = allowUntrusted
        options.allowDowngrade = allowDowngrade
        if isatty(STDIN_FILENO) != 0 && isatty(STDERR_FILENO) != 0 {
            options.confirm = { why in
                Terminal.writeError("\(why).\n")
                return Terminal.ask("Install it anyway?")
            }
        }
        let outcome = try PackEnvironment.engine { () throws(PackArchiveError) in
            try installer.install(bytes, options: options)
        }
        let r = outcome.record
        let from = outcome.previousVersion.map { " (was \($0))" } ?? ""
        print("installed \(r.id) \(r.version)\(from), \(outcome.trust); run it with: portdoctor run \(r.id)")
    }
}

struct PackListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List bundled and installed packs, with version, publisher and trust.")

    @OptionGroup var output: OutputOptions

    func run() throws {
        let installer = PackInstaller(directories: try PackEnvironment.directories())
        let installed = installer.installed()
        let bundled = PackLinter.bundledManifests()
        var rows: [JSONValue] = []
        var lines: [String] = []
        for m in bundled {
            let replaced = installed.contains { $0.record.id == m.id }
            rows.append(
                .object([
                    "id": .string(m.id), "version": .string(m.version), "source": .string("bundled"),
                    "publisher": .string("portdoctor"), "trust": .string("built in"), "active": .bool(!replaced),
                ]))
            lines.append("\(m.id.padding(20)) \(m.version.padding(10)) bundled\(replaced ? " (replaced by the installed one)" : "")")
        }
        for p in installed {
            let r = p.record
            let trust: String = { if case .trusted(let n) = p.trustNow { "trusted (\(n))" } else { "\(p.trustNow)" } }()
            rows.append(
                .object([
                    "id": .string(r.id), "version": .string(r.version), "source": .string("installed"),
                    "publisher": r.publisher.map(JSONValue.string) ?? .null,
                    "fingerprint": r.fingerprint.map(JSONValue.string) ?? .null,
                    "trust": .string(trust), "active": .bool(true), "path": .string(p.directory),
                ]))
            let by = r.publisher.map { "by '\($0)' \(r.fingerprint ?? "")" } ?? ""
            lines.append("\(r.id.padding(20)) \(r.version.padding(10)) installed, \(trust) \(by)")
        }
        output.print(.array(rows)) { lines.joined(separator: "\n") }
    }
}

struct PackRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove an installed pack (bundled packs are built in and stay).")

    @Argument(help: "The pack's id.")
    var id: String

    func run() throws {
        let installer = PackInstaller(directories: try PackEnvironment.directories())
        if !installer.installed().contains(where: { $0.record.id == id }),
            PackLinter.bundledManifests().contains(where: { $0.id == id })
        {
            throw Failure("\(id) is bundled with portdoctor and cannot be removed (`portdoctor run --skip` leaves out checks)")
        }
        try PackEnvironment.engine { () throws(PackArchiveError) in try installer.remove(id: id) }
        print("removed \(id)")
    }
}
