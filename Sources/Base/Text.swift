extension StringProtocol {
    /// The string without leading and trailing spaces, tabs and line breaks.
    public func trimmed() -> String {
        func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\r\n" }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }
}

/// Numbers as the bench tools print them (Base has no Foundation formatting).
public enum DecimalText {
    /// `value` rounded to `places` decimals, `-` kept: `fixed(2.345)` is `2.35`, `fixed(7, 0)` is `7`.
    public static func fixed(_ value: Double, _ places: Int = 2) -> String {
        var scale = 1
        for _ in 0..<places { scale *= 10 }
        let scaled = Int((abs(value) * Double(scale)).rounded())
        let sign = value < 0 && scaled != 0 ? "-" : ""
        guard places > 0 else { return sign + String(scaled) }
        let fraction = String(scaled % scale)
        return sign + "\(scaled / scale)." + String(repeating: "0", count: places - fraction.count) + fraction
    }
}
