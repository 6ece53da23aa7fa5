/// RFC 3986 percent-encoding: URIs (`AMQP_URL`'s credentials and vhost), form bodies (GitHub's `payload=`) and S3
/// object keys.
public enum PercentEncoding {
    /// The bytes of `encoded` with `%XX` escapes decoded (and `+` as a space when `plusIsSpace`, as forms write
    /// it); nil when an escape is cut short or not hex.
    public static func decode<C: Collection>(_ encoded: C, plusIsSpace: Bool = false) -> [UInt8]?
    where C.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(encoded.count)
        var bytes = encoded.makeIterator()
        while let b = bytes.next() {
            if b == UInt8(ascii: "%") {
                guard let h = bytes.next(), let l = bytes.next(), let v = Hex.decode([h, l]) else { return nil }
                out.append(v[0])
            } else if plusIsSpace && b == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(b)
            }
        }
        return out
    }

    /// `text` with everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) escaped, in uppercase
    /// hex as AWS Signature V4 requires.
    public static func encodeAllButUnreserved(_ text: String) -> String {
        let digits = Array("0123456789ABCDEF".unicodeScalars)
        var out = ""
        for byte in text.utf8 {
            let unreserved =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
            if unreserved {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%"
                out.unicodeScalars.append(digits[Int(byte >> 4)])
                out.unicodeScalars.append(digits[Int(byte & 0xF)])
            }
        }
        return out
    }
}
