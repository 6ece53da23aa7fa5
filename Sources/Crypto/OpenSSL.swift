import Base
internal import COpenSSL

#if canImport(Glibc)
    import Glibc
#endif

/// SHA-256, SHA-1 and HMAC fetched from the default provider once. `EVP_sha256()` is OpenSSL 3's legacy handle:
/// every digest made with it fetches the implementation again (a name lookup under a read lock). A fetched
/// algorithm is immutable and may be shared by all threads; nil (no provider) falls back to the legacy handle.
private nonisolated(unsafe) let fetchedSHA256 = EVP_MD_fetch(nil, "SHA256", nil)
private nonisolated(unsafe) let fetchedSHA1 = EVP_MD_fetch(nil, "SHA1", nil)
private nonisolated(unsafe) let fetchedHMAC = EVP_MAC_fetch(nil, "HMAC", nil)

/// An HMAC-SHA256 key made ready once (wraps `EVP_MAC_CTX`): each `mac` copies the keyed context and hashes the
/// data. `HMAC()`, the one-shot call, fetches HMAC and then SHA-256 by name and sets the key up again on every call,
/// whatever digest handle it is given; a webhook's signature check pays none of that.
public final class HMACSHA256Key: @unchecked Sendable {
    // Only read after init (`EVP_MAC_CTX_dup` copies it), so threads may share it; nil without a provider.
    private let keyed: OpaquePointer?
    private let key: [UInt8]

    /// A key of `key`'s bytes (an empty key too).
    public init(_ key: [UInt8]) {
        self.key = key
        keyed = Self.keyedContext(key)
    }

    deinit { EVP_MAC_CTX_free(keyed) }

    /// HMAC-SHA256 of `data`.
    public func mac(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        guard let keyed, let context = EVP_MAC_CTX_dup(keyed) else { return OpenSSL.hmacSHA256(key: key, data: data) }
        defer { EVP_MAC_CTX_free(context) }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length = 0
        guard EVP_MAC_update(context, data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count) == 1,
            EVP_MAC_final(context, &out, &length, out.count) == 1
        else { return OpenSSL.hmacSHA256(key: key, data: data) }
        return Array(out.prefix(length))
    }

    private static func keyedContext(_ key: [UInt8]) -> OpaquePointer? {
        guard let fetchedHMAC, let context = EVP_MAC_CTX_new(fetchedHMAC) else { return nil }
        var digest = Array("SHA256".utf8CString)
        let ready = digest.withUnsafeMutableBufferPointer { name in
            var params = [
                OSSL_PARAM_construct_utf8_string("digest", name.baseAddress, 0), OSSL_PARAM_construct_end(),
            ]
            // EVP_MAC_init rejects a NULL key pointer; an empty secret still needs a valid address.
            var empty: UInt8 = 0
            return key.withUnsafeBufferPointer { bytes in
                EVP_MAC_init(context, bytes.baseAddress ?? withUnsafePointer(to: &empty) { $0 }, bytes.count, &params)
            }
        }
        guard ready == 1 else {
            EVP_MAC_CTX_free(context)
            return nil
        }
        return context
    }
}

/// The libcrypto calls the product makes; every unsafe pointer that touches OpenSSL stays in this file.
///
/// All functions here are stateless one-shot calls and safe from any thread (OpenSSL 3 needs no locking setup).
public enum OpenSSL {
    private static var sha256MD: OpaquePointer? { fetchedSHA256 ?? EVP_sha256() }
    private static var sha1MD: OpaquePointer? { fetchedSHA1 ?? EVP_sha1() }

    /// HMAC-SHA256 of `data` under `key` (wraps `HMAC()`, which sets the key up on each call: a key used for many
    /// messages is an `HMACSHA256Key`).
    public static func hmacSHA256(key: [UInt8], data: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        key.withUnsafeBytes { keyBytes in
            // HMAC() rejects a NULL key pointer; an empty secret still needs a valid address.
            var empty: UInt8 = 0
            let keyPointer = keyBytes.baseAddress ?? withUnsafePointer(to: &empty) { UnsafeRawPointer($0) }
            _ = HMAC(
                sha256MD, keyPointer, Int32(keyBytes.count),
                data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count, &out, &length)
        }
        return Array(out.prefix(Int(length)))
    }

    /// SHA-1 of `data` (wraps `EVP_Digest` with `EVP_sha1()`); used only for name-based UUIDs (RFC 9562 v5).
    public static func sha1(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        data.withUnsafeBytes { bytes in
            _ = EVP_Digest(bytes.baseAddress, bytes.count, &out, &length, sha1MD, nil)
        }
        return Array(out.prefix(Int(length)))
    }

    /// SHA-256 of `data` (wraps `EVP_Digest` with `EVP_sha256()`).
    public static func sha256(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        data.withUnsafeBytes { bytes in
            _ = EVP_Digest(bytes.baseAddress, bytes.count, &out, &length, sha256MD, nil)
        }
        return Array(out.prefix(Int(length)))
    }

    /// SHA-256 of everything `fd` holds from offset 0, read in 64 KiB chunks so a file of any size is hashed in
    /// constant memory (wraps `EVP_DigestInit_ex`, `EVP_DigestUpdate`, `EVP_DigestFinal_ex`). Nil when a read fails.
    public static func sha256(fileDescriptor fd: Int32) -> [UInt8]? {
        guard let ctx = EVP_MD_CTX_new() else { return nil }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestInit_ex(ctx, EVP_sha256(), nil) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var offset: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { raw in
                Posix.retryingEINTR { pread(fd, raw.baseAddress, raw.count, offset) }
            }
            guard n >= 0 else { return nil }
            if n == 0 { break }
            offset += off_t(n)
            guard buffer.withUnsafeBytes({ EVP_DigestUpdate(ctx, $0.baseAddress, n) }) == 1 else { return nil }
        }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(ctx, &out, &length) == 1 else { return nil }
        return Array(out.prefix(Int(length)))
    }

    /// `true` when the buffers are equal, in time that depends only on their length (wraps `CRYPTO_memcmp`).
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 }
        }
    }
}

/// A libcrypto failure with OpenSSL's own message (`ERR_error_string_n`) read at the throw site.
public struct OpenSSLError: Error, CustomStringConvertible, Sendable {
    /// What was being done.
    public var context: String
    /// OpenSSL's error queue, oldest first.
    public var reason: String

    public var description: String { "\(context): \(reason)" }

    init(_ context: String) {
        self.context = context
        var reasons: [String] = []
        var buffer = [CChar](repeating: 0, count: 256)
        var code = ERR_get_error()
        while code != 0 {
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            code = ERR_get_error()
        }
        reason = reasons.isEmpty ? "unknown error" : reasons.joined(separator: "; ")
    }
}

/// Owns an RSA private key (`EVP_PKEY*`) read from PEM, PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8
/// (`BEGIN PRIVATE KEY`). Immutable after init; OpenSSL 3 keys may sign from several threads at once.
public final class RSAPrivateKey: @unchecked Sendable {
    private let key: OpaquePointer

    /// Parses `pem` (wraps `PEM_read_bio_PrivateKey`); throws unless it is an RSA key of at least 2048 bits.
    public init(pem: String) throws(OpenSSLError) {
        ERR_clear_error()
        let bytes = Array(pem.utf8)
        let parsed: OpaquePointer? = bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
        guard let parsed else { throw OpenSSLError("not a PEM private key") }
        guard EVP_PKEY_get_base_id(parsed) == EVP_PKEY_RSA, EVP_PKEY_get_bits(parsed) >= 2048 else {
            EVP_PKEY_free(parsed)
            throw OpenSSLError("the key is not an RSA key of 2048 bits or more")
        }
        key = parsed
    }

    deinit { EVP_PKEY_free(key) }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message` (wraps `EVP_DigestSign`): the RS256 of JWTs.
    public func signSHA256(_ message: [UInt8]) throws(OpenSSLError) -> [UInt8] {
        guard let ctx = EVP_MD_CTX_new() else { throw OpenSSLError("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestSignInit(ctx, nil, EVP_sha256(), nil, key) == 1 else {
            throw OpenSSLError("EVP_DigestSignInit")
        }
        var length = 0
        let ok = message.withUnsafeBufferPointer { m -> Bool in
            guard EVP_DigestSign(ctx, nil, &length, m.baseAddress, m.count) == 1 else { return false }
            return true
        }
        guard ok else { throw OpenSSLError("EVP_DigestSign (size)") }
        var signature = [UInt8](repeating: 0, count: length)
        let signed = message.withUnsafeBufferPointer { m in
            EVP_DigestSign(ctx, &signature, &length, m.baseAddress, m.count) == 1
        }
        guard signed else { throw OpenSSLError("EVP_DigestSign") }
        return Array(signature.prefix(length))
    }
}
