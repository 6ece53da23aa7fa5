/// Connecting to the nodes `AMQP_URL` lists (SPEC §12): each in turn from a given one, wrapping around, until one
/// takes the connection. With one node this is a plain connect, failing with that node's own error.
enum AMQPFailover {
    /// Tries `open` on `addresses[start]`, then the next ones in order (wrapping around), each once; returns the
    /// first connection made and the index of its node, or throws: the one node's error, or every node's in turn.
    /// A refusal by the broker itself (a positive reply code: 403 login, 406 a queue's arguments) is thrown at once:
    /// the nodes of one cluster share users and queues, so the next node would answer the same.
    static func connect<T>(
        _ addresses: [AMQPAddress], from start: Int, _ open: (AMQPAddress) throws(AMQPError) -> T
    ) throws(AMQPError) -> (T, node: Int) {
        precondition(!addresses.isEmpty, "no broker address")
        var failures: [AMQPError] = []
        for step in 0..<addresses.count {
            let index = (start + step) % addresses.count
            do { return (try open(addresses[index]), index) } catch {
                if error.code > 0 { throw error }
                failures.append(error)
            }
        }
        if failures.count == 1 { throw failures[0] }
        throw AMQPError(
            code: failures.last?.code ?? -1,
            message: "no node of \(addresses.count) reachable: "
                + zip(0..., failures).map { "[\($0.0 + 1)] \($0.1.message)" }.joined(separator: "; "))
    }

    /// The node to try first after `node` failed or its connection was lost: the next one in the list.
    static func next(after node: Int, of count: Int) -> Int { count > 0 ? (node + 1) % count : 0 }
}
