import Base
import Events

/// The `output` of a completed Check Run (SPEC §8): a title, a summary with the exit code and the orchestrator's
/// summary, and a text with the last lines of the log, each within GitHub's 65535-character limit.
public struct CheckRunOutput: Sendable, Equatable {
    /// GitHub refuses `summary` and `text` longer than this many characters.
    public static let limit = 65_535

    /// Output title.
    public var title: String
    /// Output summary (exit code and the result's summary).
    public var summary: String
    /// The log's last lines, within GitHub's 65535 characters.
    public var text: String?

    /// What is known about the job's log when the output is written.
    public struct Log: Sendable, Equatable {
        /// The end of the log as text (the last bytes read from it), nil when there is none to show.
        public var tail: String?
        /// True when `tail` starts somewhere inside the log rather than at its beginning.
        public var tailIsPartial: Bool
        /// Where the whole log can be read.
        public var url: String?
        /// Why the log is missing or was not stored, shown to the reader (never a secret).
        public var problems: [String]

        /// A log description; all parts optional.
        public init(tail: String? = nil, tailIsPartial: Bool = false, url: String? = nil, problems: [String] = []) {
            self.tail = tail
            self.tailIsPartial = tailIsPartial
            self.url = url
            self.problems = problems
        }
    }

    /// The output for `result` with what is known about its log.
    public init(result: JobResult, log: Log) {
        let code = result.exitCode.map { "exit code \($0)" } ?? "exit code unknown"
        title = result.success ? "Succeeded (\(code))" : "Failed (\(code))"
        var summary = "**\(result.success ? "Success" : "Failure")**, \(code)."
        if let text = result.summary?.trimmed(), !text.isEmpty { summary += "\n\n" + text }
        for problem in log.problems { summary += "\n\n" + problem }
        if let url = log.url { summary += "\n\nFull log: \(url)" }
        self.summary = Self.prefix(summary, Self.limit)
        if let tail = log.tail {
            let opening = "```text\n"
            let closing = "\n```"
            // Room for the heading (at most ~60 characters) and the fence.
            let budget = Self.limit - 100 - opening.unicodeScalars.count - closing.unicodeScalars.count
            let last = Self.lastLines(tail, budget: budget, dropFirstPartialLine: log.tailIsPartial)
            let heading =
                last.complete ? "The log (\(last.count) lines):" : "The last \(last.count) lines of the log:"
            text = heading + "\n\n" + opening + last.text + closing
        } else {
            text = nil
        }
    }

    /// The last whole lines of `log` that fit in `budget` characters (Unicode scalars, as GitHub counts them),
    /// without the final newline. A first line that may be cut (the log was read from the middle) is dropped;
    /// a single last line longer than the budget keeps its end.
    public static func lastLines(_ log: String, budget: Int, dropFirstPartialLine: Bool = false) -> (
        text: String, count: Int, complete: Bool
    ) {
        var lines = log.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        if dropFirstPartialLine && lines.count > 1 { lines.removeFirst() }
        var kept: [Substring] = []
        var used = 0
        for line in lines.reversed() {
            let cost = line.unicodeScalars.count + (kept.isEmpty ? 0 : 1)
            if used + cost > budget {
                if kept.isEmpty {
                    // One enormous line: show its end.
                    let scalars = line.unicodeScalars
                    let start = scalars.index(scalars.endIndex, offsetBy: -budget)
                    kept.append(Substring(scalars[start...]))
                }
                return (kept.reversed().joined(separator: "\n"), kept.count, false)
            }
            kept.append(line)
            used += cost
        }
        return (kept.reversed().joined(separator: "\n"), kept.count, !dropFirstPartialLine)
    }

    /// The first `limit` Unicode scalars of `text`.
    static func prefix(_ text: String, _ limit: Int) -> String {
        let scalars = text.unicodeScalars
        guard scalars.count > limit else { return text }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars.prefix(limit - 1))
        out.append("…")
        return String(out)
    }

    /// The output as the Checks API's `output` object.
    public var json: JSONField {
        var fields: [String: JSONField] = ["title": .string(title), "summary": .string(summary)]
        if let text { fields["text"] = .string(text) }
        return .object(fields)
    }
}
