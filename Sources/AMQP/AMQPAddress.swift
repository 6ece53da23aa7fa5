import Base

/// The parts of an `amqp://user:password@host:port/vhost` URL (RabbitMQ's URI spec: the vhost is percent-decoded,
/// so `%2f` is `/`; an absent vhost is `/`; absent credentials are guest/guest).
public struct AMQPAddress: Sendable, Equatable {
    /// Broker host name or address.
    public var host: String
    /// Broker port [5672].
    public var port: Int
    /// Virtual host, percent-decoded [/].
    public var vhost: String
    /// User name [guest].
    public var user: String
    /// Password [guest]; never logged.
    public var password: String

    /// Parses `url`; throws with a message naming what is wrong (the password is never repeated).
    public init(url: String) throws(AMQPAddressError) {
        guard url.hasPrefix("amqp://") else {
            throw AMQPAddressError(
                message: "expected amqp://[user:password@]host[:port][/vhost] (amqps is not supported)")
        }
        var rest = Substring(url.dropFirst("amqp://".count))
        var vhost = "/"
        if let slash = rest.firstIndex(of: "/") {
            let raw = rest[rest.index(after: slash)...]
            guard let decoded = Self.percentDecode(raw) else {
                throw AMQPAddressError(message: "bad percent-escape in the vhost")
            }
            vhost = raw.isEmpty ? "/" : decoded
            rest = rest[..<slash]
        }
        var user = "guest", password = "guest"
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            let parts = credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let u = Self.percentDecode(parts[0]), let p = Self.percentDecode(parts.count > 1 ? parts[1] : "")
            else { throw AMQPAddressError(message: "bad percent-escape in the credentials") }
            user = u
            password = p
            rest = rest[rest.index(after: at)...]
        }
        var port = 5672
        var host = String(rest)
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                throw AMQPAddressError(message: "port must be a number from 1 to 65535")
            }
            port = p
            host = String(rest[..<colon])
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw AMQPAddressError(message: "missing host") }
        self.host = host
        self.port = port
        self.vhost = vhost
        self.user = user
        self.password = password
    }

    /// Parses an `AMQP_URL` that lists one or more nodes, comma-separated (SPEC §2, §12), in order; blanks around
    /// a URL are ignored. Throws naming the URL at fault ("URL 2 of 3: ...") when there are several.
    public static func list(_ urls: String) throws(AMQPAddressError) -> [AMQPAddress] {
        let parts = urls.split(separator: ",", omittingEmptySubsequences: false).map {
            String($0.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
        }
        if parts.count == 1 { return [try AMQPAddress(url: urls)] }
        var addresses: [AMQPAddress] = []
        for (index, part) in parts.enumerated() {
            do { addresses.append(try AMQPAddress(url: part)) } catch {
                let what = part.isEmpty ? "empty (two commas, or a comma at an end)" : error.message
                throw AMQPAddressError(message: "URL \(index + 1) of \(parts.count): \(what)")
            }
        }
        return addresses
    }

    /// `host:port`, as logs and the status show the node in use (never the credentials).
    public var node: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    private static func percentDecode(_ s: Substring) -> String? {
        PercentEncoding.decode(s.utf8).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// A malformed `AMQP_URL`.
public struct AMQPAddressError: Error, Equatable {
    /// What is wrong.
    public var message: String
}
