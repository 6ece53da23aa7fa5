import AMQP
import Base
import Delivery
import Jobs

@testable import Webhook

extension WebhookResponder {
    /// A responder publishing through `publisher`, spooling to and recording in `spool` when one is given: the
    /// wiring solstice-fcgi does, with the broker replaced at its seam.
    convenience init(
        configuration: WebhookConfiguration, publisher: any MessagePublishing,
        expander: any JobExpanding = SingleJobExpander(), spool: SpoolDirectory? = nil, logger: Logger,
        clock: @escaping @Sendable () -> Int = WallClock.now
    ) {
        self.init(
            configuration: configuration,
            dispatcher: JobDispatcher(publisher: publisher, outbox: spool.map(JobOutbox.init), logger: logger),
            expander: expander, spool: spool, logger: logger, clock: clock)
    }
}
