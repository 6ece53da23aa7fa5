import FoundationEssentials

/// A configuration value that stops the process at start; `description` is the one line printed.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    /// The environment variable (or flag) at fault.
    public var variable: String
    /// What is wrong with it and what is expected.
    public var message: String

    /// An error naming `variable`.
    public init(variable: String, message: String) {
        self.variable = variable
        self.message = message
    }

    /// `invalid configuration: VARIABLE: message`.
    public var description: String { "invalid configuration: \(variable): \(message)" }
}

/// One row of a daemon's table of variables: the source `--help`, `check-config` and the README check are
/// derived from, so a variable and its default are written down once.
public struct ConfigVariable: Sendable, Equatable {
    /// The environment variable.
    public var name: String
    /// The default as people read it (`/webhooks/github`, `2 × CPUs`); nil when unset means "none".
    public var defaultValue: String?
    /// What it does, in a few words.
    public var meaning: String

    /// A row.
    public init(_ name: String, _ defaultValue: String?, _ meaning: String) {
        self.name = name
        self.defaultValue = defaultValue
        self.meaning = meaning
    }

    /// The `environment` part of `--help`: one line per variable, `NAME [default]  meaning`.
    public static func helpText(_ variables: [ConfigVariable]) -> String {
        let heads = variables.map { v in v.name + (v.defaultValue.map { " [\($0)]" } ?? "") }
        let width = min(48, heads.map(\.count).max() ?? 0)
        return zip(heads, variables).map { head, v in
            let pad = String(repeating: " ", count: max(1, width - head.count + 2))
            return "  " + head + pad + v.meaning
        }.joined(separator: "\n")
    }

    /// Set variables that look like ours (their prefix is one of ours) but are not in `variables`: most often a
    /// typo that silently leaves a default in force.
    public static func unknown(in environment: [String: String], known variables: [ConfigVariable]) -> [String] {
        let names = Set(variables.map(\.name))
        let prefixes = Set(variables.compactMap { $0.name.split(separator: "_").first.map { String($0) + "_" } })
            .subtracting(["GITHUB_", "AWS_", "LOG_"])
        return environment.keys.filter { key in
            !names.contains(key) && prefixes.contains { key.hasPrefix($0) }
        }.sorted()
    }
}

/// The process environment as configuration reads it: command-line flags win over variables, values are trimmed,
/// and an empty value counts as unset.
public struct Environment {
    /// Every variable, flags applied.
    public let values: [String: String]
    private let readFile: (String) throws -> String

    /// `environment` with `overrides` (flags, by variable name) applied; `readFile` reads `*_FILE` and key paths.
    public init(
        _ environment: [String: String], overrides: [String: String] = [:],
        readFile: @escaping (String) throws -> String = { try String(contentsOfFile: $0, encoding: .utf8) }
    ) {
        var values = environment
        for (key, value) in overrides { values[key] = value }
        self.values = values
        self.readFile = readFile
    }

    /// The trimmed value of `name`; nil when unset or blank.
    public func value(_ name: String) -> String? {
        guard let raw = values[name] else { return nil }
        let trimmed = raw.trimmed()
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The value exactly as set (secrets may begin or end with spaces).
    public func raw(_ name: String) -> String? { values[name] }

    /// The contents of the file `path` names for `variable`.
    public func file(_ path: String, for variable: String) throws(ConfigurationError) -> String {
        do { return try readFile(path) } catch {
            throw ConfigurationError(variable: variable, message: "cannot read \(path)")
        }
    }

    /// A whole number in `range`, or nil when unset.
    public func integer(_ name: String, in range: ClosedRange<Int>, _ expected: String) throws(ConfigurationError)
        -> Int?
    {
        guard let text = value(name) else { return nil }
        guard let n = Int(text), range.contains(n) else {
            throw ConfigurationError(variable: name, message: expected)
        }
        return n
    }

    /// An `http(s)://` URL without a query and without trailing slashes, or nil when unset.
    public func url(_ name: String) throws(ConfigurationError) -> String? {
        guard let text = value(name) else { return nil }
        guard text.hasPrefix("https://") || text.hasPrefix("http://"), !text.contains("?") else {
            throw ConfigurationError(variable: name, message: "expected an http(s) URL without a query")
        }
        var trimmed = Substring(text)
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return String(trimmed)
    }

    /// A comma-separated list, entries trimmed, empty ones dropped; nil when unset.
    public func list(_ name: String) -> [String]? {
        value(name).map { $0.split(separator: ",").map { $0.trimmed() }.filter { !$0.isEmpty } }
    }
}

/// How a daemon logs (`LOG_LEVEL`, `LOG_FORMAT`).
public struct LogSettings: Sendable, Equatable {
    /// Least severe level logged [info].
    public var level = LogLevel.info
    /// `text` or `json` [text].
    public var format = LogFormat.text

    /// The defaults.
    public init() {}

    /// The variables of this part.
    public static let variables = [
        ConfigVariable("LOG_LEVEL", "info", "debug, info, warning or error; logs go to stderr"),
        ConfigVariable("LOG_FORMAT", "text", "text (key=value) or json lines"),
    ]

    /// Reads `LOG_LEVEL` and `LOG_FORMAT`.
    public static func load(_ env: Environment) throws(ConfigurationError) -> LogSettings {
        var settings = LogSettings()
        if let level = env.value("LOG_LEVEL") {
            guard let parsed = LogLevel(rawValue: level.lowercased()) else {
                throw ConfigurationError(variable: "LOG_LEVEL", message: "expected debug, info, warning or error")
            }
            settings.level = parsed
        }
        if let format = env.value("LOG_FORMAT") {
            guard let parsed = LogFormat(rawValue: format.lowercased()) else {
                throw ConfigurationError(variable: "LOG_FORMAT", message: "expected text or json")
            }
            settings.format = parsed
        }
        return settings
    }

    /// A logger with these settings.
    public var logger: Logger { Logger(level: level, format: format) }
}
