// swift-tools-version:6.0
// Solstice CI — GitHub integration. See README.md, ../shared/SPEC.md §1 and ../shared/ARCHITECTURE.md.
//
// Library targets are layered: each imports only targets listed before it, so the compiler rejects an import that
// points back up (SwiftPM refuses dependency cycles). The request flows down this list: Webhook → Jobs → Events.
import PackageDescription

/// A library target at Sources/NAME.
func layer(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .target(name: name, dependencies: dependencies)
}

let package = Package(
    name: "solstice-github",
    products: [
        .executable(name: "solstice-fcgi", targets: ["solstice-fcgi"]),
        .executable(name: "solstice-results", targets: ["solstice-results"]),
    ],
    targets: [
        // One system-library module per C library, each imported by one Swift file only (STYLE.md point 1).
        .systemLibrary(name: "CFCGI", pkgConfig: "fcgi", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CRabbitMQ", pkgConfig: "librabbitmq", providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // The compiler's __atomic builtins, for the counters mapped from SPOOL_DIR/metrics.v1 (SPEC §11).
        .systemLibrary(name: "CAtomics"),

        // Lowest first (ARCHITECTURE.md "Modules").
        layer("Base", []),
        // KDL needs nothing else, so the fuzzer builds it alone (scripts/fuzz-kdl.sh).
        layer("KDL", []),
        layer("Crypto", ["Base", "COpenSSL"]),
        layer("HTTP", ["Base", "CCurl"]),
        layer("AMQP", ["Base", "CRabbitMQ"]),
        layer("GitHub", ["Base", "Crypto", "HTTP"]),
        layer("Delivery", ["Base", "CAtomics"]),
        layer("Workflow", ["Base", "KDL"]),
        // Crypto for SHA-1: the delivery ids are UUIDv5 (SPEC §7).
        layer("Events", ["Base", "Crypto"]),
        layer("Jobs", ["Base", "Events", "Workflow", "GitHub", "AMQP", "Delivery"]),
        // AMQP and GitHub for their settings (the daemon's configuration is composed of them) and check-config.
        // Workflow for its limits, part of the daemon's configuration.
        layer("Webhook", ["Base", "Crypto", "HTTP", "AMQP", "GitHub", "Delivery", "Events", "Workflow", "Jobs"]),
        layer("Background", ["Base", "AMQP", "Delivery", "GitHub", "Events", "Jobs"]),
        layer("Results", ["Base", "Crypto", "HTTP", "AMQP", "GitHub", "Events"]),

        .executableTarget(
            name: "solstice-fcgi",
            dependencies: [
                "Base", "HTTP", "AMQP", "GitHub", "Delivery", "Workflow", "Jobs", "Webhook", "Background", "CFCGI",
            ]),
        .executableTarget(name: "solstice-results", dependencies: ["Base", "AMQP", "GitHub", "HTTP", "Results"]),
        // `make bench`: KDL parse throughput and memory (scripts/kdl_bench.py compares it with ckdl), and workflow
        // parse times at the SPEC §5 limits.
        .executableTarget(name: "kdl-bench", dependencies: ["Base", "KDL", "Workflow"]),
        // `make bench`: the broker's ceiling for JobPublisher alone (no HTTP), the figure the webhook path is held to.
        .executableTarget(name: "publish-bench", dependencies: ["AMQP", "Base", "Events"]),
        // `make bench`: EventMapper.map on GitHub's samples with JSONDecoder, JSONTapeDecoder and the direct reader.
        .executableTarget(name: "json-bench", dependencies: ["Base", "Events"]),
        // `make bench`: WebhookResponder.respond alone (no HTTP, no broker), the CPU per webhook that is ours.
        .executableTarget(name: "request-bench", dependencies: ["AMQP", "Base", "Delivery", "Jobs", "Webhook"]),

        // Unit tests beside the module they test, and what several of them share (payloads, a recording publisher).
        .target(name: "TestSupport", dependencies: ["AMQP", "Base"], path: "Tests/TestSupport"),
        .testTarget(name: "BaseTests", dependencies: ["Base", "TestSupport"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "Base", "TestSupport"]),
        .testTarget(name: "AMQPTests", dependencies: ["AMQP", "Base", "TestSupport"]),
        .testTarget(name: "KDLTests", dependencies: ["KDL"], exclude: ["Fixtures"]),
        .testTarget(name: "WorkflowTests", dependencies: ["Workflow", "KDL", "Base"], exclude: ["Fixtures"]),
        .testTarget(name: "EventsTests", dependencies: ["Events", "Base", "TestSupport"]),
        .testTarget(name: "DeliveryTests", dependencies: ["Delivery", "Base", "TestSupport"]),
        .testTarget(name: "GitHubTests", dependencies: ["GitHub", "Crypto", "HTTP", "Base", "TestSupport"]),
        .testTarget(
            name: "JobsTests",
            dependencies: ["Jobs", "Events", "Workflow", "GitHub", "Delivery", "Crypto", "Base", "TestSupport"]),
        .testTarget(
            name: "WebhookTests",
            dependencies: [
                "Webhook", "Jobs", "AMQP", "Events", "Delivery", "GitHub", "Crypto", "Base", "TestSupport",
            ],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "BackgroundTests",
            dependencies: [
                "Background", "Jobs", "AMQP", "Delivery", "GitHub", "Events", "Crypto", "Base", "TestSupport",
            ]),
        .testTarget(
            name: "ResultsTests",
            dependencies: ["Results", "Events", "GitHub", "HTTP", "AMQP", "Crypto", "Base", "TestSupport"]),
    ]
)
