/// Prometheus text exposition format 0.0.4 (SPEC §11), as solstice-fcgi's `METRICS_PATH` and solstice-results'
/// `METRICS_TEXTFILE` write it: each family's `# HELP` and `# TYPE` once, then its samples.
public struct PrometheusText: Sendable {
    /// The content type of a scrape answer.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The text so far.
    public private(set) var text = ""

    /// An empty exposition.
    public init() {}

    /// Starts family `name` (`counter`, `gauge`, `histogram`) with its help line.
    public mutating func family(_ name: String, _ type: String, help: String) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type)\n"
    }

    /// A family of one unlabelled sample: its help, its type and its value.
    public mutating func single(_ name: String, _ type: String, help: String, _ value: Double) {
        family(name, type, help: help)
        sample(name, [], value)
    }

    /// One sample of `name` with `labels` (in order).
    public mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " " + Self.number(value) + "\n"
    }

    /// A whole histogram: `bounds` (ascending upper bounds), per-bucket counts (`bounds.count + 1`, the last for
    /// above every bound), sum and count.
    public mutating func histogram(
        _ name: String, help: String, bounds: [Double], counts: [UInt64], sum: Double, labels: [(String, String)] = []
    ) {
        family(name, "histogram", help: help)
        var cumulative: UInt64 = 0
        for (index, bound) in bounds.enumerated() {
            cumulative += index < counts.count ? counts[index] : 0
            sample(name + "_bucket", labels + [("le", Self.number(bound))], Double(cumulative))
        }
        let total = counts.reduce(0, +)
        sample(name + "_bucket", labels + [("le", "+Inf")], Double(total))
        sample(name + "_sum", labels, sum)
        sample(name + "_count", labels, Double(total))
    }

    /// A sample value: integers without a fraction, `+Inf`, `-Inf`, `NaN`.
    public static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    static func escapeLabel(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func escapeHelp(_ value: String) -> String {
        value.replacingOccurrences("\\", with: "\\\\").replacingOccurrences("\n", with: "\\n")
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
