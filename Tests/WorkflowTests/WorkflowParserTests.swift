import Testing

@testable import Workflow

/// `.solstice/workflow.kdl` → jobs (SPEC §5), from fixture files and inline error cases.
@Suite("WorkflowParser")
struct WorkflowParserTests {
    @Test("the SPEC example")
    func specExample() throws {
        let workflow = try WorkflowParser.parse(try WorkflowFixtures.bytes("workflow/spec-example.kdl"))
        #expect(
            workflow
                == Workflow(
                    name: "CI",
                    jobs: [
                        WorkflowJob(id: "lint", runsOn: "ubuntu-24.04", scriptPath: ".solstice/lint.sh"),
                        WorkflowJob(id: "build", runsOn: "omnios-r151054", scriptPath: ".solstice/job.sh"),
                    ]
                )
        )
    }

    @Test("top-level jobs, id=, child settings, ignored extras")
    func topLevelJobs() throws {
        let workflow = try WorkflowParser.parse(try WorkflowFixtures.bytes("workflow/top-level-jobs.kdl"))
        #expect(workflow.name == nil)
        #expect(
            workflow.jobs == [
                WorkflowJob(id: "unit.tests_1", runsOn: "debian-13", scriptPath: ".solstice/unit tests.sh"),
                WorkflowJob(id: "docs"),
            ]
        )
    }

    @Test("a KDL 1.0 workflow is accepted")
    func kdlV1() throws {
        let workflow = try WorkflowParser.parse(try WorkflowFixtures.bytes("workflow/kdl-v1.kdl"))
        #expect(workflow.jobs == [WorkflowJob(id: "build", runsOn: "ubuntu-22.04", scriptPath: ".solstice\\build.sh")])
    }

    @Test("wrapper and top-level jobs together; property wins over child node")
    func mixed() throws {
        let workflow = try WorkflowParser.parse(
            "job a runs-on=x { runs_on y }\nworkflow \"W\" { job b { runs_on z } }\n/- job c"
        )
        #expect(workflow.name == "W")
        #expect(workflow.jobs == [WorkflowJob(id: "a", runsOn: "x"), WorkflowJob(id: "b", runsOn: "z")])
    }

    /// Source → (line, column, message fragment, kind).
    static let errors: [(String, Int, Int, String, WorkflowError.Kind)] = [
        ("job a\njob b\n  job a", 3, 3, "duplicate job id \"a\" (first defined on line 1)", .workflow),
        ("workflow {\n    job runs_on=x\n}", 2, 5, "job has no id", .workflow),
        ("workflow name=\"CI\" {\n    step x\n}", 1, 1, "defines no jobs", .workflow),
        ("", 1, 1, "defines no jobs", .workflow),
        ("// only comments\n", 1, 1, "defines no jobs", .workflow),
        ("job \"a b\"", 1, 1, "may only contain letters", .workflow),
        ("job \"\"", 1, 1, "may only contain letters", .workflow),
        ("job 1", 1, 1, "job id must be a string", .workflow),
        ("job a id=b", 1, 1, "two different ids", .workflow),
        ("job a runs_on=1", 1, 1, "runs_on must be a string", .workflow),
        ("job a {\n  script\n}", 2, 3, "script needs a value", .workflow),
        ("workflow name=#true { job a }", 1, 1, "workflow name must be a string", .workflow),
        ("workflow {\n  job \"a\" runs_on=\"x\n}", 2, 21, "cannot contain a literal newline", .syntax),
        ("job a {", 1, 7, "never closed", .syntax),
    ]

    @Test("errors carry line, column and an actionable message", arguments: errors.indices)
    func error(_ index: Int) {
        let (source, line, column, fragment, kind) = WorkflowParserTests.errors[index]
        do {
            let workflow = try WorkflowParser.parse(source)
            Issue.record("\(source.debugDescription) parsed: \(workflow)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.column == column, "\(error)")
            #expect(error.message.contains(fragment), "\(error)")
            #expect(error.kind == kind)
        }
    }

    @Test("valid ids", arguments: ["a", "A-9", "x.y_z", "...", "0"])
    func validIDs(_ id: String) throws {
        #expect(try WorkflowParser.parse("job \"\(id)\"").jobs[0].id == id)
    }
}
