import Base
import Crypto

/// Deterministic ids of SPEC §7: a redelivery of the same webhook yields the same `group_id` and `request_id`s.
public struct DeliveryIDs: Sendable, Equatable {
    /// `X-GitHub-Delivery`, plus `:` and `X-GitHub-Hook-Installation-Target-ID` when GitHub sent it (every hook
    /// that receives one event gets the same delivery GUID, so the target tells two hooks apart).
    public let deliveryKey: String
    /// `X-GitHub-Delivery` as sent.
    public let delivery: String
    /// `X-GitHub-Hook-Installation-Target-ID`, when sent.
    public let installationTarget: String?
    /// One per delivery: all jobs of one expansion share it. Made once: a webhook reads it several times (its lock,
    /// its record, its jobs, its answer), and each UUIDv5 is a SHA-1.
    public let groupID: String

    /// The namespace of every Solstice UUIDv5; changing it changes every id, so it never changes.
    public static let namespace: [UInt8] = [
        0x9c, 0x46, 0x0c, 0x2b, 0x59, 0x12, 0x46, 0xd7, 0x9b, 0x55, 0x90, 0x3d, 0xf2, 0x1e, 0xa3, 0x2d,
    ]

    /// The ids of one delivery.
    public init(delivery: String, installationTarget: String?) {
        self.delivery = delivery
        self.installationTarget = installationTarget
        if let target = installationTarget, !target.isEmpty {
            deliveryKey = delivery + ":" + target
        } else {
            deliveryKey = delivery
        }
        groupID = Self.uuid5(deliveryKey)
    }

    /// The id of job `jobID` of this delivery (job ids never contain `/`, so keys cannot collide).
    public func requestID(jobID: String) -> String { Self.uuid5(deliveryKey + "/" + jobID) }

    /// The key of an approval of commit `sha` of `owner/repo` (SPEC §10): approvals are bound to one commit, so a
    /// second approval of it, by a click or a comment on any delivery, meets the first one's record.
    public static func approvalKey(owner: String, repo: String, sha: String) -> String {
        uuid5("approval/\(owner.lowercased())/\(repo.lowercased())/\(sha)")
    }

    /// RFC 9562 UUID version 5 of `name` in `namespace`, lowercase.
    static func uuid5(_ name: String, namespace: [UInt8] = namespace) -> String {
        var hash = OpenSSL.sha1(namespace + Array(name.utf8))
        hash[6] = (hash[6] & 0x0f) | 0x50
        hash[8] = (hash[8] & 0x3f) | 0x80
        let hex = Array(Hex.encode(Array(hash.prefix(16))).utf8)
        var out = [UInt8]()
        for (i, c) in hex.enumerated() {
            if i == 8 || i == 12 || i == 16 || i == 20 { out.append(UInt8(ascii: "-")) }
            out.append(c)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
