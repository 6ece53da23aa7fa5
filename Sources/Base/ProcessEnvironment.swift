#if canImport(Glibc)
    import Glibc
#endif

/// The process environment as a dictionary, read without Foundation.
public enum ProcessEnvironment {
    /// Every `NAME=value` of `environ`.
    public static func current() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                result[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            pointer += 1
        }
        return result
    }
}

/// What both daemons' command lines share: `--help`, `--version`, and the one line a failed start prints.
public struct CommandLineTool: Sendable {
    /// The program's name, prefixed to its error lines.
    public let name: String
    /// `NAME VERSION`.
    public let version: String
    /// The `--help` text.
    public let usage: String

    /// A tool called `name`.
    public init(name: String, version: String, usage: String) {
        self.name = name
        self.version = "\(name) \(version)"
        self.usage = usage
    }

    /// Prints the usage or the version and exits 0 when `argument` asks for it; returns otherwise.
    public func answerHelpOrVersion(_ argument: String) {
        switch argument {
        case "--help", "-h":
            print(usage)
            exit(0)
        case "--version":
            print(version)
            exit(0)
        default:
            return
        }
    }

    /// Writes `NAME: message` to stderr and exits with `code` (2: bad usage or configuration).
    public func fail(_ message: String, code: Int32 = 2) -> Never {
        try? Posix.writeAll(2, Array("\(name): \(message)\n".utf8))
        exit(code)
    }
}
