import Base
import Webhook

#if canImport(Glibc)
    import Glibc
#endif

/// Serves exactly one request as a CGI program: parameters from the environment, body on stdin, response on
/// stdout.
enum CGIAdapter {
    /// Answers the request `environment` describes, its body read from `input` and the answer written to `output`.
    /// Stdout (fd 1) is closed once the answer is written; another `output` (the request fuzzer's pipe) is left to
    /// its owner.
    static func serveOne(
        _ responder: WebhookResponder, environment: [String: String], input: Int32 = 0, output: Int32 = 1
    ) {
        let request = WebhookRequest { environment[$0] }
        var consumed = false
        let response = responder.respond(to: request) { limit in
            consumed = true
            let want = min(request.contentLength ?? (limit + 1), limit + 1)
            guard let body = Posix.read(input, upTo: want) else { return nil }
            if let expected = request.contentLength, body.count < min(expected, limit + 1) { return nil }
            return body
        }
        // A CGI program that exits without reading its body makes some servers (Apache mod_cgid) reset the
        // connection while they still write it; read what was declared before answering (bounded).
        if !consumed, let declared = request.contentLength, declared > 0, declared <= 64 << 20 {
            Posix.discard(input, upTo: declared)
        }
        try? Posix.writeAll(output, response.cgiBytes())
        // The web server may wait for stdout to close before it answers; close it, then finish the work.
        if output == 1 { close(1) }
        responder.afterAnswer(response)
    }
}
