import Base
import Testing

@testable import KDL
@testable import Workflow

/// SPEC §5 v2: what a hostile repository's workflow file may ask for, and that reading it stays linear.
@Suite("Workflow limits")
struct WorkflowLimitsTests {
    /// `count` jobs, one per line, job `k` (1-based) on line `k` (on line `k + 1` inside the wrapper).
    static func jobs(_ count: Int, wrapper: Bool = false) -> String {
        var text = wrapper ? "workflow name=\"W\" {\n" : ""
        for k in 1...count { text += "job \"j\(k)\" runs_on=\"ubuntu-24.04\" script=\".solstice/job.sh\"\n" }
        return text + (wrapper ? "}\n" : "")
    }

    /// The error `source` is refused with, or nil when it parses.
    static func error(_ source: String, _ limits: WorkflowLimits = WorkflowLimits()) -> WorkflowError? {
        error(Array(source.utf8), limits)
    }

    static func error(_ bytes: [UInt8], _ limits: WorkflowLimits = WorkflowLimits()) -> WorkflowError? {
        do {
            _ = try WorkflowParser.parse(bytes, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    @Test("the defaults are SPEC §2's")
    func defaults() {
        let limits = WorkflowLimits()
        #expect(limits.maxBytes == 262_144 && limits.maxJobs == 256 && limits.runsOnAllowed == nil)
        #expect(limits.maxIDLength == 100 && limits.maxDepth == 64)
        #expect(WorkflowLimits.variables.map(\.name) == ["WORKFLOW_MAX_BYTES", "WORKFLOW_MAX_JOBS", "RUNS_ON_ALLOWED"])
        #expect(WorkflowLimits.variables.map(\.defaultValue) == ["262144", "256", "allow all"])
    }

    @Test("256 jobs are read; job 257 is refused at its line, naming WORKFLOW_MAX_JOBS", arguments: [false, true])
    func jobLimit(wrapper: Bool) throws {
        #expect(try WorkflowParser.parse(Self.jobs(256, wrapper: wrapper)).jobs.count == 256)
        let error = try #require(Self.error(Self.jobs(257, wrapper: wrapper)))
        #expect(error.kind == .workflow)
        #expect(error.line == (wrapper ? 258 : 257) && error.column == 1)
        #expect(error.message.hasPrefix("more than WORKFLOW_MAX_JOBS (256) jobs: this is job 257"), "\(error)")
    }

    @Test("reading stops at the first job over the limit: what follows it is never read")
    func jobLimitStopsEarly() throws {
        // 20,000 jobs, the last without an id and the 300th a duplicate: only the limit is reported.
        let source = Self.jobs(299) + "job \"j1\"\n" + Self.jobs(19_699) + "job\n"
        let error = try #require(Self.error(source, Self.lifted(maxJobs: 256)))
        #expect(error.line == 257)
        #expect(error.message.contains("WORKFLOW_MAX_JOBS (256)"))
    }

    @Test("jobs are counted across the wrapper and the top level")
    func jobsCountedEverywhere() throws {
        var limits = WorkflowLimits()
        limits.maxJobs = 3
        #expect(try WorkflowParser.parse("job a\nworkflow { job b; job c }", limits: limits).jobs.count == 3)
        let error = try #require(Self.error("job a\nworkflow {\n job b; job c\n}\njob d", limits))
        #expect(error.line == 5)
        #expect(error.message.contains("WORKFLOW_MAX_JOBS (3)"))
    }

    @Test("a file over WORKFLOW_MAX_BYTES is refused before it is parsed; one at the limit is read")
    func byteLimit() throws {
        // Not KDL at all: a parse would report a syntax error instead.
        let garbage = Array("job \"a\" {\n".utf8) + [UInt8](repeating: 0xFF, count: 262_145 - 10)
        let error = try #require(Self.error(garbage))
        #expect(error.kind == .workflow)
        #expect(error.line == 1 && error.column == 1)
        #expect(error.message.hasPrefix("the workflow file is 262145 bytes, more than WORKFLOW_MAX_BYTES (262144)"))

        let job = Array("job \"a\"\n//".utf8)
        let atLimit = job + [UInt8](repeating: 0x78, count: 262_144 - job.count)
        #expect(try WorkflowParser.parse(atLimit).jobs == [WorkflowJob(id: "a")])
        var small = WorkflowLimits()
        small.maxBytes = 100
        #expect(Self.error(atLimit, small)?.message.contains("WORKFLOW_MAX_BYTES (100)") == true)
    }

    @Test("a job id of 101 characters is refused without echoing it; 100 are fine")
    func idLength() throws {
        let fine = String(repeating: "a", count: 100)
        #expect(try WorkflowParser.parse("job \"\(fine)\"").jobs[0].id == fine)
        let long = String(repeating: "b", count: 101)
        let error = try #require(Self.error("job \"x\"\njob id=\"\(long)\""))
        #expect(error.kind == .workflow && error.line == 2)
        #expect(error.message == "job id is 101 characters long, more than the limit of 100: shorten it")
        // Characters, not bytes: 100 two-byte letters are refused for their letters, not their length.
        let accented = try #require(Self.error("job \"\(String(repeating: "é", count: 100))\""))
        #expect(accented.message.contains("may only contain letters"))
    }

    /// A job whose children nest `depth` levels deep (the job being level 1), the deepest on line `depth`.
    static func nested(_ depth: Int) -> String {
        var text = "job \"a\" {\n"
        for level in 2..<depth { text += String(repeating: " ", count: level) + "level\(level) {\n" }
        text += "deepest\n"
        return text + String(repeating: "}\n", count: depth - 1)
    }

    @Test("nodes nested 65 deep are refused at the first such node; 64 are fine")
    func depth() throws {
        #expect(try WorkflowParser.parse(Self.nested(64)).jobs == [WorkflowJob(id: "a")])
        let error = try #require(Self.error(Self.nested(65)))
        #expect(error.kind == .workflow)
        #expect(error.line == 65)
        #expect(error.message.contains("nested more than 64 levels deep"))
        // Any node counts, not only jobs.
        let unrelated = "job a\nother {\n" + Self.nested(64) + "}\n"
        #expect(Self.error(unrelated)?.line == 66)
        // The KDL parser's own cap (256 children blocks) stays underneath.
        #expect(Self.error(Self.nested(300))?.kind == .syntax)
    }

    /// RUNS_ON_ALLOWED → label → allowed, matched like the allowlists (`Glob.matches`).
    static let runsOn: [([String]?, String, Bool)] = [
        (nil, "anything-at-all", true),
        (["ubuntu-*", "omnios-*"], "ubuntu-24.04", true),
        (["ubuntu-*", "omnios-*"], "omnios-r151054", true),
        (["ubuntu-*", "omnios-*"], "debian-13", false),
        (["ubuntu-24.04"], "ubuntu-24.04", true),
        (["ubuntu-24.04"], "ubuntu-24.04-gpu", false),
        (["*"], "x", true),
        (["linux/*"], "linux/a/b", false),
    ]

    @Test("a job's own runs_on must match RUNS_ON_ALLOWED", arguments: runsOn.indices)
    func runsOnAllowed(_ index: Int) {
        let (globs, label, allowed) = Self.runsOn[index]
        var limits = WorkflowLimits()
        limits.runsOnAllowed = globs
        #expect(limits.allows(runsOn: label) == allowed)
        let error = Self.error("job a runs-on=\"\(label)\"", limits)
        #expect((error == nil) == allowed, "\(String(describing: error))")
    }

    @Test("a refused runs_on names the label, the globs and the line it was given on")
    func runsOnRefused() throws {
        var limits = WorkflowLimits()
        limits.runsOnAllowed = ["ubuntu-*", "omnios-*"]
        let error = try #require(Self.error("job a {\n  script \"x\"\n  runs_on \"gpu-xl\"\n}\njob b", limits))
        #expect(error.kind == .workflow)
        #expect(error.line == 3 && error.column == 3)
        #expect(error.message.contains("runs_on gpu-xl is not allowed here: RUNS_ON_ALLOWED is ubuntu-*,omnios-*"))
        // A job without its own runs_on is not refused: its runner comes from the operator's configuration.
        #expect(try WorkflowParser.parse("job a", limits: limits).jobs == [WorkflowJob(id: "a")])
    }

    @Test("a label with a NUL is refused whenever globs are set: fnmatch would read only up to the NUL")
    func runsOnWithNUL() throws {
        var limits = WorkflowLimits()
        limits.runsOnAllowed = ["ubuntu-24.04"]
        #expect(!limits.allows(runsOn: "ubuntu-24.04\u{0}-gpu"))
        let error = try #require(Self.error(#"job a runs_on="ubuntu-24.04\u{0}-gpu""#, limits))
        #expect(error.message.contains("RUNS_ON_ALLOWED is ubuntu-24.04"))
        #expect(try WorkflowParser.parse(#"job a runs_on="x\u{0}y""#).jobs[0].runsOn == "x\u{0}y")
    }

    @Test("load reads the variables")
    func load() throws {
        #expect(try WorkflowLimits.load(Environment([:])) == WorkflowLimits())
        let limits = try WorkflowLimits.load(
            Environment([
                "WORKFLOW_MAX_BYTES": "1000", "WORKFLOW_MAX_JOBS": " 3 ", "RUNS_ON_ALLOWED": "ubuntu-*, omnios-*,",
            ]))
        #expect(limits.maxBytes == 1000 && limits.maxJobs == 3)
        #expect(limits.runsOnAllowed == ["ubuntu-*", "omnios-*"])
    }

    @Test(
        "load refuses bad values, naming the variable",
        arguments: [
            ("WORKFLOW_MAX_BYTES", "0"), ("WORKFLOW_MAX_BYTES", "1k"), ("WORKFLOW_MAX_BYTES", "99999999999"),
            ("WORKFLOW_MAX_JOBS", "-1"), ("WORKFLOW_MAX_JOBS", "many"), ("RUNS_ON_ALLOWED", ", ,"),
        ])
    func loadRefuses(_ variable: String, _ value: String) {
        #expect(throws: ConfigurationError.self) { try WorkflowLimits.load(Environment([variable: value])) }
        do {
            _ = try WorkflowLimits.load(Environment([variable: value]))
        } catch {
            #expect(error.variable == variable)
        }
    }

    static func lifted(maxJobs: Int = 100_000) -> WorkflowLimits {
        var limits = WorkflowLimits()
        limits.maxBytes = 4 << 20
        limits.maxJobs = maxJobs
        return limits
    }

    @Test("20,000 jobs (about 1 MB) with the limits lifted: every line from one index, the duplicate at the end found")
    func linear() throws {
        let source = Array((Self.jobs(20_000) + "job \"j5\"\n").utf8)
        #expect(source.count > 1_000_000)
        let document = try KDLDocument.parse(source)
        #expect(throws: WorkflowError.self) { try WorkflowParser.workflow(from: document, limits: Self.lifted()) }
        do {
            _ = try WorkflowParser.workflow(from: document, limits: Self.lifted())
        } catch {
            #expect(error.line == 20_001)
            #expect(error.message.hasPrefix("duplicate job id \"j5\" (first defined on line 5)"))
        }
        #expect(document.storage.lineIndexBuilds == 1)

        let valid = try KDLDocument.parse(Array(Self.jobs(20_000).utf8))
        #expect(try WorkflowParser.workflow(from: valid, limits: Self.lifted()).jobs.count == 20_000)
        #expect(valid.storage.lineIndexBuilds == 1)
    }
}
