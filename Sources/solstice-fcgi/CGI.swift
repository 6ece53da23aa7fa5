import Core

#if canImport(Glibc)
    import Glibc
#endif

/// Serves exactly one request as a CGI program: parameters from the environment, body on stdin, response on
/// stdout.
enum CGIAdapter {
    static func serveOne(_ responder: WebhookResponder, environment: [String: String]) {
        let request = WebhookRequest { environment[$0] }
        var consumed = 0
        let response = responder.respond(to: request) { limit in
            defer { consumed = limit + 1 }
            let want = min(request.contentLength ?? (limit + 1), limit + 1)
            var body = [UInt8](repeating: 0, count: want)
            var filled = 0
            while filled < want {
                let n = body.withUnsafeMutableBytes { read(0, $0.baseAddress! + filled, want - filled) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                filled += n
            }
            if let expected = request.contentLength, filled < min(expected, limit + 1) { return nil }
            return Array(body.prefix(filled))
        }
        // A CGI program that exits without reading its body makes some servers (Apache mod_cgid) reset the
        // connection while they still write it; read what was declared before answering (bounded).
        if consumed == 0, let declared = request.contentLength, declared > 0, declared <= 64 << 20 {
            var sink = [UInt8](repeating: 0, count: 65_536)
            var left = declared
            while left > 0 {
                let n = sink.withUnsafeMutableBytes { read(0, $0.baseAddress!, min(left, 65_536)) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                left -= n
            }
        }
        let bytes = response.cgiBytes()
        let total = bytes.count
        var written = 0
        while written < total {
            let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + written, total - written) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            written += n
        }
        // The web server may wait for stdout to close before it answers; close it, then finish the work.
        close(1)
        response.followUp?()
    }
}
