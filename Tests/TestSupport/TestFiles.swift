#if canImport(Glibc)
    import Glibc
#endif

/// A fresh directory under /tmp, removed with everything in it by `remove()` (call it in a `defer`).
public struct TemporaryDirectory: Sendable {
    /// The directory.
    public let path: String

    /// Creates `/tmp/solstice-NAME-XXXXXX`.
    public init(_ name: String) {
        var template = Array("/tmp/solstice-\(name)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("mkdtemp: \(String(cString: strerror(errno)))") }
        path = String(cString: made)
    }

    /// Removes the directory and its contents.
    public func remove() {
        _ = TestShell.run("rm -rf '\(path)'")
    }

    /// Writes `text` to `name` inside the directory and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) -> String {
        let file = path + "/" + name
        guard let handle = fopen(file, "w") else { fatalError("fopen \(file)") }
        _ = text.withCString { fputs($0, handle) }
        fclose(handle)
        return file
    }
}

/// Runs a shell command and returns its standard output (for fixtures made at test time).
public enum TestShell {
    /// The standard output of `command` run by `/bin/sh`.
    public static func run(_ command: String) -> String {
        guard let pipe = popen(command, "r") else { return "" }
        defer { pclose(pipe) }
        var out = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while case let n = fread(&buffer, 1, buffer.count, pipe), n > 0 { out += buffer[0..<n] }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Keys made at test time, never committed.
public enum TestKeys {
    /// A throwaway RSA key, PKCS#1 PEM (`openssl genrsa -traditional 2048`), made once per test process.
    public static let rsaPKCS1: String = TestShell.run("openssl genrsa -traditional 2048 2>/dev/null")
}
