import Base
import Foundation
import HTTP
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// SPEC v2 §2 `CA_BUNDLE`: a server whose certificate a private CA signed (GitHub Enterprise Server's, often) is
/// trusted with that CA's bundle, and refused without it. The server is `openssl s_server` on loopback.
@Suite struct CABundleTests {
    /// A self-signed certificate for 127.0.0.1 and `openssl s_server` using it, started through the shell (Foundation's
    /// `Process` was seen to hang waiting for it here).
    final class TLSServer {
        let directory: String
        let port: Int
        private let pid: pid_t

        init() throws {
            var template = Array("/tmp/solstice-tls-XXXXXX".utf8CString)
            directory = String(cString: mkdtemp(&template))
            let made = system(
                "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                    + "-addext subjectAltName=IP:127.0.0.1 -keyout '\(directory)/key.pem' -out '\(directory)/cert.pem' "
                    + ">/dev/null 2>&1")
            #expect(made == 0)
            port = Int(try RefusingPort().port)
            _ = system(
                "openssl s_server -accept 127.0.0.1:\(port) -cert '\(directory)/cert.pem' -key '\(directory)/key.pem' "
                    + "-www -quiet </dev/null >/dev/null 2>&1 & echo $! > '\(directory)/pid'")
            let text = (try? String(contentsOfFile: directory + "/pid", encoding: .utf8)) ?? ""
            pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            // Ready once it accepts a TCP connection.
            for _ in 0..<100 {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                close(fd)
                if connected == 0 { return }
                usleep(50_000)
            }
        }

        var certificate: String { directory + "/cert.pem" }

        func stop() {
            // SIGKILL: s_server was seen to outlive SIGTERM (and it holds every descriptor the test process had).
            if pid > 0 { kill(pid, SIGKILL) }
            _ = system("rm -rf '\(directory)'")
        }
    }

    @Test func aPrivateCAIsTrustedOnlyWithItsBundle() throws {
        let server = try TLSServer()
        defer { server.stop() }
        let url = "https://127.0.0.1:\(server.port)/"
        var settings = HTTPSettings()
        settings.caBundle = server.certificate
        let response = try HTTPClient(settings: settings).send(HTTPRequest(method: "GET", url: url, timeout: 10))
        #expect(response.status == 200)
        #expect {
            try HTTPClient().send(HTTPRequest(method: "GET", url: url, timeout: 10))
        } throws: { error in
            // CURLE_PEER_FAILED_VERIFICATION: the system store does not know this CA.
            (error as? HTTPError)?.code == 60
        }
    }

    @Test func anUnreadableBundleStopsTheStartNamingIt() throws {
        #expect {
            try HTTPSettings.load(Environment(["CA_BUNDLE": "/nonexistent/ca.pem"]))
        } throws: { error in
            (error as? ConfigurationError)?.variable == "CA_BUNDLE"
        }
        #expect(try HTTPSettings.load(Environment([:])).caBundle == nil)
    }
}
