import Base

// The payload slices read straight from a validated `JSONTape` (`PayloadDecoder.direct`), without `Decodable`: its
// keyed containers, existential decoders, generic metadata and coding paths cost about as much as the tape's own
// check of the text (a 28 kB pull_request in json-bench), where the lookups themselves cost little.
//
// The answers must be `JSONTapeDecoder`'s, value for value and error for error (PayloadDecodingTests compares them),
// so each `init(tape:)` reads its fields in the order the synthesized `init(from:)` decodes them, the declaration
// order in Payloads.swift: the first field that fails names the 400. A field added there must be added here too.
// Each field is read as `decodeIfPresent` reads it: absent or null is nil, anything but the expected kind is the
// wrong type, a number that is no `Int` makes the text "not valid JSON" (the tape decoder's `JSONNumberError`).

/// A payload slice that can be read from a JSON object on the tape.
protocol TapeReadable {
    /// Reads the slice's fields from `object`.
    init(tape object: PayloadObject) throws(PayloadFieldError)
}

extension TapeReadable {
    /// The slice in `payload`, or the `PayloadError` that `EventMapper.map` answers for the tape decoder's error.
    static func read(payload: [UInt8]) throws(PayloadError) -> Self {
        guard let tape = try? JSONTape(validating: payload) else { throw .notJSON }
        do throws(PayloadFieldError) {
            return try read(JSONTapeValue(root: tape))
        } catch {
            throw error.payloadError
        }
    }

    /// The slice in `value`, which must be an object (`container(keyedBy:)`: null is a missing value, anything
    /// else the wrong type); the caller puts the field's key in front of the error's path.
    static func read(_ value: JSONTapeValue) throws(PayloadFieldError) -> Self {
        switch value.kind {
        case .object: return try Self(tape: PayloadObject(value))
        case .null: throw PayloadFieldError(.null)
        default: throw PayloadFieldError(.wrongType)
        }
    }
}

/// Why a payload could not be read, and where: the `DecodingError` (or number error) the tape decoder throws there.
struct PayloadFieldError: Error {
    enum Reason {
        /// `typeMismatch`.
        case wrongType
        /// `valueNotFound`: an explicit null where a value must be.
        case null
        /// A number that fits no `Int`.
        case notAnInteger
    }

    var reason: Reason
    /// The keys (array elements by index) from the field up to the slice being read, innermost first: each
    /// containing object adds its key as the error passes up, so nothing is spelled unless something fails.
    var innermostFirst: [String] = []

    init(_ reason: Reason) { self.reason = reason }

    /// The error as seen from the object that holds `key`.
    func inside(_ key: String) -> PayloadFieldError {
        var outer = self
        outer.innermostFirst.append(key)
        return outer
    }

    /// What `EventMapper.decode` makes of the tape decoder's error: a wrong type without a path is the top level.
    var payloadError: PayloadError {
        let field = innermostFirst.reversed().joined(separator: ".")
        switch reason {
        case .wrongType where innermostFirst.isEmpty: return .notAnObject
        case .wrongType: return .wrongType(field)
        // Also at the top level, where the field is "" (a payload of `null`), as the tape decoder's valueNotFound.
        case .null: return .null(field)
        case .notAnInteger: return .notJSON
        }
    }
}

/// A JSON object of a payload, read field by field as a keyed decoding container's `decodeIfPresent` reads them.
struct PayloadObject {
    private let object: JSONTapeValue

    fileprivate init(_ object: JSONTapeValue) { self.object = object }

    /// The value of `key` unless it is absent or null.
    private func present(_ key: String) -> JSONTapeValue? {
        guard let value = object.member(key), value.kind != .null else { return nil }
        return value
    }

    func string(_ key: String) throws(PayloadFieldError) -> String? {
        guard let value = present(key) else { return nil }
        guard let string = value.string else { throw PayloadFieldError(.wrongType).inside(key) }
        return string
    }

    func bool(_ key: String) throws(PayloadFieldError) -> Bool? {
        guard let value = present(key) else { return nil }
        guard let bool = value.bool else { throw PayloadFieldError(.wrongType).inside(key) }
        return bool
    }

    func integer(_ key: String) throws(PayloadFieldError) -> Int? {
        guard let value = present(key) else { return nil }
        guard value.kind.isNumber else { throw PayloadFieldError(.wrongType).inside(key) }
        guard let integer = value.integer(as: Int.self) else { throw PayloadFieldError(.notAnInteger) }
        return integer
    }

    func object<T: TapeReadable>(_ key: String, _: T.Type = T.self) throws(PayloadFieldError) -> T? {
        guard let value = present(key) else { return nil }
        return try within(key) { () throws(PayloadFieldError) in try T.read(value) }
    }

    /// An array of objects (`[T].init(from:)`: an unkeyed container, then each element in turn).
    func array<T: TapeReadable>(_ key: String, of _: T.Type = T.self) throws(PayloadFieldError) -> [T]? {
        guard let value = present(key) else { return nil }
        guard value.kind == .array else { throw PayloadFieldError(.wrongType).inside(key) }
        var elements: [T] = []
        for (offset, element) in value.elements.enumerated() {
            elements.append(
                try within(key) { () throws(PayloadFieldError) in
                    try within(String(offset)) { () throws(PayloadFieldError) in try T.read(element) }
                })
        }
        return elements
    }

    /// An object that may be an explicit null, told apart from an absent key (`PullRequestRefPayload.repo`:
    /// `contains`, then `Nullable`'s `decodeNil`).
    func nullable<T: TapeReadable>(_ key: String, _: T.Type = T.self) throws(PayloadFieldError) -> Nullable<T>? {
        guard let value = object.member(key) else { return nil }
        guard value.kind != .null else { return .null }
        return .value(try within(key) { () throws(PayloadFieldError) in try T.read(value) })
    }

    private func within<T>(_ key: String, _ read: () throws(PayloadFieldError) -> T) throws(PayloadFieldError) -> T {
        do throws(PayloadFieldError) {
            return try read()
        } catch {
            throw error.reason == .notAnInteger ? error : error.inside(key)
        }
    }
}

// Each slice's fields in declaration order (see the top of this file).

extension RepositoryPayload: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) {
        id = try o.integer("id")
        name = try o.string("name")
        clone_url = try o.string("clone_url")
        ssh_url = try o.string("ssh_url")
        owner = try o.object("owner")
    }
}

extension OwnerPayload: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) {
        login = try o.string("login")
        name = try o.string("name")
    }
}

extension InstallationPayload: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) { id = try o.integer("id") }
}

extension UserPayload: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) { login = try o.string("login") }
}

extension HeadCommitPayload: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) { message = try o.string("message") }
}

extension NumberPayload: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) { number = try o.integer("number") }
}

extension PushPayload: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) {
        ref = try o.string("ref")
        after = try o.string("after")
        deleted = try o.bool("deleted")
        head_commit = try o.object("head_commit")
        repository = try o.object("repository")
        installation = try o.object("installation")
    }
}

extension PullRequestEventPayload: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) {
        action = try o.string("action")
        number = try o.integer("number")
        pull_request = try o.object("pull_request")
        repository = try o.object("repository")
        installation = try o.object("installation")
    }
}

extension PullRequestPayload: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) {
        number = try o.integer("number")
        title = try o.string("title")
        draft = try o.bool("draft")
        html_url = try o.string("html_url")
        user = try o.object("user")
        author_association = try o.string("author_association")
        head = try o.object("head")
        base = try o.object("base")
        labels = try o.array("labels")
    }
}

extension BaseRefPayload: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) {
        ref = try o.string("ref")
        repo = try o.object("repo")
    }
}

extension BaseRefPayload.Repo: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) { id = try o.integer("id") }
}

extension PullRequestRefPayload: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) {
        sha = try o.string("sha")
        ref = try o.string("ref")
        repo = try o.nullable("repo")
    }
}

extension LabelPayload: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) { name = try o.string("name") }
}

extension CheckSuiteEventPayload: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) {
        action = try o.string("action")
        check_suite = try o.object("check_suite")
        repository = try o.object("repository")
        installation = try o.object("installation")
    }
}

extension CheckSuiteEventPayload.Suite: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) {
        head_sha = try o.string("head_sha")
        head_branch = try o.string("head_branch")
        pull_requests = try o.array("pull_requests")
    }
}

extension CheckRunEventPayload: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) {
        action = try o.string("action")
        check_run = try o.object("check_run")
        requested_action = try o.object("requested_action")
        sender = try o.object("sender")
        repository = try o.object("repository")
        installation = try o.object("installation")
    }
}

extension CheckRunEventPayload.Run: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) {
        head_sha = try o.string("head_sha")
        name = try o.string("name")
        external_id = try o.string("external_id")
        conclusion = try o.string("conclusion")
        app = try o.object("app")
        pull_requests = try o.array("pull_requests")
        check_suite = try o.object("check_suite")
    }
}

extension CheckRunEventPayload.Run.App: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) { id = try o.integer("id") }
}

extension CheckRunEventPayload.RequestedAction: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) { identifier = try o.string("identifier") }
}

extension IssueCommentEventPayload: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) {
        action = try o.string("action")
        issue = try o.object("issue")
        comment = try o.object("comment")
        repository = try o.object("repository")
        installation = try o.object("installation")
    }
}

extension IssueCommentEventPayload.Issue: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) {
        number = try o.integer("number")
        pull_request = try o.object("pull_request")
    }
}

extension IssueCommentEventPayload.Issue.PullRequestLink: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) { url = try o.string("url") }
}

extension IssueCommentEventPayload.Comment: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) {
        body = try o.string("body")
        user = try o.object("user")
    }
}

extension PingPayload: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) { zen = try o.string("zen") }
}

extension ActionPayload: TapeReadable {
    init(tape o: PayloadObject) throws(PayloadFieldError) { action = try o.string("action") }
}
