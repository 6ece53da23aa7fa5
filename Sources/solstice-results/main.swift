// solstice-results completes Check Runs from JobResult messages (SPEC §8); it lands with its own issue.
#if canImport(Glibc)
    import Glibc
#endif

let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("--version") {
    print("solstice-results 0.1.0")
    exit(0)
}
print("solstice-results: not built yet (consumes solstice.results.v1 and completes Check Runs, SPEC §8)")
exit(arguments.contains("--help") ? 0 : 2)
