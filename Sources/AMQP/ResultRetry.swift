/// The retry schedule of JobResults (SPEC §6, §8 v2): after failed attempt n (1–4) a result waits in the n-th
/// delay queue, whose TTL dead-letters it back to the results exchange; the 5th failure goes to the DLQ.
///
/// One queue per delay because RabbitMQ expires messages only at a queue's head: a 10-minute message would hold
/// up a 5-second one behind it. The attempt count travels in the message (`x-solstice-attempt`), so it survives
/// a restart of solstice-results, and no consumer holds a message while it waits.
public enum ResultRetry {
    /// The header that counts the failed attempts so far, set on each republish.
    public static let header = "x-solstice-attempt"
    /// Attempts at a result in all; the last failure dead-letters it.
    public static let maxAttempts = 5
    /// Name suffix and `x-message-ttl` of each delay queue, in the order they are used.
    public static let delays: [(suffix: String, milliseconds: Int64)] = [
        (".5s", 5_000), (".30s", 30_000), (".2m", 120_000), (".10m", 600_000),
    ]

    /// The queue a result goes to after its failed attempt `attempt` (1–4) with `prefix` =
    /// `AMQP_RESULTS_RETRY_QUEUE`.
    public static func queue(prefix: String, afterFailedAttempt attempt: Int) -> String {
        precondition((1...delays.count).contains(attempt), "attempt \(attempt) has no retry queue")
        return prefix + delays[attempt - 1].suffix
    }

    /// The delay, in seconds, after failed attempt `attempt` (1–4).
    public static func delay(afterFailedAttempt attempt: Int) -> Double {
        Double(delays[attempt - 1].milliseconds) / 1000
    }

    /// The attempts already made at a message, read from its `x-solstice-attempt` header.
    ///
    /// The header is untrusted input (anyone who may publish a result may set it): absent, not an integer (or a
    /// decimal string), or negative, it counts as 0 — the message gets the full schedule, which is bounded; above
    /// `maxAttempts - 1` it is clamped there, so a forged or corrupted count still gets exactly one attempt and its
    /// failure dead-letters the message instead of looping or overflowing.
    public static func previousAttempts(_ value: AMQPHeaderValue?) -> Int {
        let limit = Int64(maxAttempts - 1)
        let number: Int64
        switch value {
        case .integer(let n): number = n
        case .unsigned(let n): number = n > UInt64(limit) ? limit : Int64(n)
        case .text(let text):
            let digits = text.utf8
            guard !digits.isEmpty, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                return 0
            }
            // 19 digits or more may not fit in an Int64, and are above the limit anyway.
            number = digits.count > 18 ? limit : Int64(text) ?? 0
        case .other, nil: return 0
        }
        return Int(min(max(number, 0), limit))
    }
}

/// A header value of a consumed message, as far as the consumer reads one.
public enum AMQPHeaderValue: Sendable, Equatable {
    /// Any signed integer kind (`b`, `s`, `I`, `l`).
    case integer(Int64)
    /// Any unsigned integer kind (`B`, `u`, `i`, `L`).
    case unsigned(UInt64)
    /// A UTF-8 (`S`) or byte (`x`) string.
    case text(String)
    /// Anything else (boolean, float, decimal, table, array, timestamp, void), by its kind byte.
    case other(UInt8)
}
