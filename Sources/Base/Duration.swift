/// Durations as configuration writes them (SPEC §2): `90s`, `10m`, `6h`, `3d`, or a plain number of seconds.
public enum DurationText {
    /// Seconds of `text`, or nil when it is not a duration (negative, empty, unknown unit, overflow).
    public static func seconds(_ text: String) -> Int? {
        var digits = Substring(text.trimmed())
        var unit = 1
        switch digits.last {
        case "s": unit = 1
        case "m": unit = 60
        case "h": unit = 3600
        case "d": unit = 86_400
        default: unit = 0
        }
        if unit != 0 { digits = digits.dropLast() } else { unit = 1 }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(digits) else {
            return nil
        }
        let (product, overflow) = n.multipliedReportingOverflow(by: unit)
        return overflow ? nil : product
    }

    /// The shortest exact form of `seconds`: `6h`, `90s`, `10m`.
    public static func format(_ seconds: Int) -> String {
        for (unit, suffix) in [(86_400, "d"), (3600, "h"), (60, "m")] where seconds > 0 && seconds % unit == 0 {
            return "\(seconds / unit)\(suffix)"
        }
        return "\(seconds)s"
    }
}
