internal import COpenSSL

/// The libcrypto calls Core makes; every unsafe pointer that touches OpenSSL stays in this file.
///
/// All functions here are stateless one-shot calls and safe from any thread (OpenSSL 3 needs no locking setup).
enum OpenSSL {
    /// HMAC-SHA256 of `data` under `key` (wraps `HMAC(EVP_sha256(), …)`).
    static func hmacSHA256(key: [UInt8], data: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        key.withUnsafeBytes { keyBytes in
            // HMAC() rejects a NULL key pointer; an empty secret still needs a valid address.
            var empty: UInt8 = 0
            let keyPointer = keyBytes.baseAddress ?? withUnsafePointer(to: &empty) { UnsafeRawPointer($0) }
            _ = HMAC(
                EVP_sha256(), keyPointer, Int32(keyBytes.count),
                data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count, &out, &length)
        }
        return Array(out.prefix(Int(length)))
    }

    /// SHA-1 of `data` (wraps `EVP_Digest` with `EVP_sha1()`); used only for name-based UUIDs (RFC 9562 v5).
    static func sha1(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        data.withUnsafeBytes { bytes in
            _ = EVP_Digest(bytes.baseAddress, bytes.count, &out, &length, EVP_sha1(), nil)
        }
        return Array(out.prefix(Int(length)))
    }

    /// `true` when the buffers are equal, in time that depends only on their length (wraps `CRYPTO_memcmp`).
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 }
        }
    }
}
