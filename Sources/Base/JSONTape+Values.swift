/// Turning tape entries into Swift values: strings, object keys and numbers, each the way Foundation's `JSONDecoder`
/// turns them (swift-foundation 6.3, `JSONDecoder.swift` and `JSONScanner.swift`), so both decoders give the same
/// values and fail on the same ones. The text was checked when the tape was made, so nothing here meets bad syntax.
extension JSONTape {
    /// The string at entry `index` (a string kind), escapes resolved.
    func string(at index: Int) -> String {
        let entry = entries[index]
        return bytes.withUnsafeBufferPointer { all in
            let raw = UnsafeBufferPointer(rebasing: all[Int(entry.start)..<Int(entry.end)])
            guard entry.kind == .escapedString else { return String(decoding: raw, as: UTF8.self) }
            // Every escape is at least as long as the UTF-8 it stands for, so the raw length is enough room.
            return String(unsafeUninitializedCapacity: raw.count) { unescape(raw, into: $0) }
        }
    }

    /// The tape index of the value of the first member of the object at entry `object` whose key is `name`, as Swift
    /// compares strings (canonical equivalence: `"\u{212A}"` is `"K"`), which is how Foundation's dictionary of keys
    /// matches them; the first, because Foundation keeps the first of duplicated keys. ASCII against ASCII is
    /// compared byte by byte, with no String made; anything else is decoded and compared. The loop runs over the raw
    /// buffers (the tape's own `next` links keep every index in range).
    func member(_ name: String, inObject object: Int) -> Int? {
        var utf8Name = name
        return utf8Name.withUTF8 { key in
            let ascii = key.allSatisfy { $0 < 0x80 }
            return entries.withUnsafeBufferPointer { entries in
                bytes.withUnsafeBufferPointer { bytes in
                    var index = object + 1
                    let end = Int(entries[object].next)
                    while index < end {
                        let entry = entries[index]
                        if entry.kind == .asciiString && ascii {
                            if Int(entry.end &- entry.start) == key.count {
                                var offset = Int(entry.start)
                                var equal = true
                                for byte in key where equal {
                                    equal = bytes[offset] == byte
                                    offset &+= 1
                                }
                                if equal { return index + 1 }
                            }
                        } else if string(at: index) == name {
                            return index + 1
                        }
                        index = Int(entries[index + 1].next)
                    }
                    return nil
                }
            }
        }
    }

    /// The number at entry `index` as `T`, or nil when Foundation would not make a `T` of it either: digits that fit
    /// are read directly; anything else goes Foundation's slow way (`Double`, exact if under 2^53, else `Decimal`), so
    /// `1.0` and `1e2` are integers, `1.5` and `1e400` are not.
    func integer<T: FixedWidthInteger>(at index: Int, as _: T.Type = T.self) -> T? {
        let entry = entries[index]
        return bytes.withUnsafeBufferPointer { all in
            let text = UnsafeBufferPointer(rebasing: all[Int(entry.start)..<Int(entry.end)])
            if entry.kind == .integer, let value: T = JSONNumberText.digits(text) { return value }
            return JSONNumberText.integer(text)
        }
    }

    /// The number at entry `index` as a `T`, or nil where Foundation refuses one: out of range (±infinity), or
    /// rounded to zero from a number that is not zero.
    func floatingPoint<T: BinaryFloatingPoint & LosslessStringConvertible>(at index: Int, as _: T.Type = T.self) -> T? {
        let entry = entries[index]
        return bytes.withUnsafeBufferPointer { all in
            let text = UnsafeBufferPointer(rebasing: all[Int(entry.start)..<Int(entry.end)])
            // The standard library's parser is strtod/strtof in the C locale, as Foundation's; the text is JSON's.
            guard let value = T(String(decoding: text, as: UTF8.self)), value.isFinite else { return nil }
            guard value != 0 || JSONNumberText.isZero(text) else { return nil }
            return value
        }
    }

    /// The number's text (for `Decimal`).
    func text(at index: Int) -> String {
        let entry = entries[index]
        return String(decoding: bytes[Int(entry.start)..<Int(entry.end)], as: UTF8.self)
    }
}

/// Writes the value of an escaped JSON string (checked when the tape was made) as UTF-8; returns the byte count.
private func unescape(_ raw: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
    var read = 0
    var written = 0
    func put(_ byte: UInt8) {
        out[written] = byte
        written += 1
    }
    func hex(at offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for byte in raw[offset..<offset + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            default: digit = byte - UInt8(ascii: "A") + 10
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }
    while read < raw.count {
        let byte = raw[read]
        guard byte == UInt8(ascii: "\\") else {
            put(byte)
            read += 1
            continue
        }
        let escaped = raw[read + 1]
        read += 2
        switch escaped {
        case UInt8(ascii: "b"): put(0x08)
        case UInt8(ascii: "f"): put(0x0C)
        case UInt8(ascii: "n"): put(0x0A)
        case UInt8(ascii: "r"): put(0x0D)
        case UInt8(ascii: "t"): put(0x09)
        case UInt8(ascii: "u"):
            var scalar = hex(at: read)
            read += 4
            if scalar & 0xFC00 == 0xD800 {
                // The scanner saw `\uDC00`-`\uDFFF` follow.
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (hex(at: read + 2) - 0xDC00)
                read += 6
            }
            for unit in UTF8.encode(Unicode.Scalar(scalar)!)! { put(unit) }
        default: put(escaped)  // " \ /
        }
    }
    return written
}

/// Foundation's rules for reading a JSON number as an integer, replayed step by step, so values and failures match.
enum JSONNumberText {
    /// `-?[0-9]+` as `T`, nil on overflow (Foundation's `_parseIntegerDigits`: a negative number is accumulated
    /// downwards, so `Int64.min` fits).
    static func digits<T: FixedWidthInteger>(_ text: UnsafeBufferPointer<UInt8>) -> T? {
        var offset = 0
        let negative = text.first == UInt8(ascii: "-")
        if negative { offset = 1 }
        guard offset < text.count else { return nil }
        var value: T = 0
        while offset < text.count {
            let digit = text[offset] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) =
                negative
                ? shifted.subtractingReportingOverflow(T(digit)) : shifted.addingReportingOverflow(T(digit))
            guard !overflow1 && !overflow2 else { return nil }
            value = next
            offset += 1
        }
        return value
    }

    /// Foundation's slow path (`_slowpath_unwrapFixedWidthInteger`): the `Double` nearest the text must be a `T`;
    /// below 2^53 that is the value, above it the text is read again as a `Decimal`.
    static func integer<T: FixedWidthInteger>(_ text: UnsafeBufferPointer<UInt8>) -> T? {
        guard let double = Double(String(decoding: text, as: UTF8.self)), let value = T(exactly: double) else {
            return nil
        }
        if double.magnitude < 0x1p53 { return value }
        return decimalInteger(text)
    }

    /// `Decimal._decimal(from:matchEntireString:)` followed by `FixedWidthInteger.init?(_: Decimal)`, as
    /// swift-foundation 6.3 does them: a 128-bit mantissa (integer digits beyond it raise the exponent, fraction digits
    /// beyond it are dropped), an exponent within Int8 (else nil: Foundation then traps in `validateNumber`, a crash
    /// this answers with an error instead), trailing zeros moved into the exponent, then the mantissa must fit a
    /// UInt64, which is scaled by the exponent, dropping the fraction.
    static func decimalInteger<T: FixedWidthInteger>(_ text: UnsafeBufferPointer<UInt8>) -> T? {
        var offset = 0
        let negative = text.first == UInt8(ascii: "-")
        if negative { offset = 1 }
        var mantissa: UInt128 = 0
        var exponent = 0
        var mantissaIsFull = false
        /// mantissa * 10 + digit, or false when that needs more than 128 bits.
        func append(_ digit: UInt8) -> Bool {
            let (shifted, overflow1) = mantissa.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = shifted.addingReportingOverflow(UInt128(digit))
            guard !overflow1 && !overflow2 else { return false }
            mantissa = next
            return true
        }
        func digit(at offset: Int) -> UInt8? {
            guard offset < text.count else { return nil }
            let digit = text[offset] &- UInt8(ascii: "0")
            return digit < 10 ? digit : nil
        }
        while let digit = digit(at: offset) {
            offset += 1
            if !mantissaIsFull && append(digit) { continue }
            mantissaIsFull = true
            guard exponent < Int(Int8.max) else { return nil }
            exponent += 1
        }
        if offset < text.count && text[offset] == UInt8(ascii: ".") {
            offset += 1
            while let digit = digit(at: offset) {
                offset += 1
                guard !mantissaIsFull else { continue }
                guard append(digit) else {
                    mantissaIsFull = true
                    continue
                }
                guard exponent > Int(Int8.min) else { return nil }
                exponent -= 1
            }
        }
        if offset < text.count {  // e or E
            offset += 1
            let negativeExponent = text[offset] == UInt8(ascii: "-")
            if text[offset] == UInt8(ascii: "-") || text[offset] == UInt8(ascii: "+") { offset += 1 }
            var written = 0
            while let digit = digit(at: offset) {
                written = written * 10 + Int(digit)
                guard written <= 2 * Int(Int8.max) else { return nil }
                offset += 1
            }
            written = (negativeExponent ? -written : written) + exponent
            guard written >= Int(Int8.min) && written <= Int(Int8.max) else { return nil }
            exponent = written
        }
        guard mantissa != 0 else { return 0 }
        // Decimal.compact()
        while mantissa % 10 == 0 {
            mantissa /= 10
            exponent += 1
        }
        while exponent > Int(Int8.max) {
            mantissa *= 10
            exponent -= 1
        }
        // FixedWidthInteger.init?(_: Decimal)
        guard !negative || T.isSigned, mantissa <= UInt128(UInt64.max) else { return nil }
        var magnitude = UInt64(mantissa)
        if exponent < 0 {
            for _ in 0..<(-exponent) { magnitude /= 10 }
        } else {
            for _ in 0..<exponent {
                let (scaled, overflow) = magnitude.multipliedReportingOverflow(by: 10)
                guard !overflow else { return nil }
                magnitude = scaled
            }
        }
        guard let value = T(exactly: magnitude) else { return nil }
        return negative ? value * -1 : value
    }

    /// Whether the number's digits before any exponent are all zeros (Foundation's `isTrueZero`), so a floating-point
    /// zero is not an underflow.
    static func isZero(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        for byte in text {
            switch byte {
            case UInt8(ascii: "1")...UInt8(ascii: "9"): return false
            case UInt8(ascii: "e"), UInt8(ascii: "E"): return true
            default: continue
            }
        }
        return true
    }
}
