// swift-tools-version:6.0
// Solstice CI — GitHub integration. See README.md and ../shared/SPEC.md §1 for the layout.
import PackageDescription

let package = Package(
    name: "solstice-github",
    products: [
        .executable(name: "solstice-fcgi", targets: ["solstice-fcgi"]),
        .executable(name: "solstice-results", targets: ["solstice-results"]),
        .library(name: "Core", targets: ["Core"]),
    ],
    targets: [
        // One system-library module per C library; nothing else imports C (STYLE.md point 1).
        .systemLibrary(name: "CFCGI", pkgConfig: "fcgi", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CRabbitMQ", pkgConfig: "librabbitmq", providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(name: "Core", dependencies: ["COpenSSL", "CRabbitMQ", "CCurl"]),
        .executableTarget(name: "solstice-fcgi", dependencies: ["Core", "CFCGI"]),
        .executableTarget(name: "solstice-results", dependencies: ["Core"]),
        // `make bench`: KDL parse throughput and memory (scripts/kdl_bench.py compares it with ckdl).
        .executableTarget(name: "kdl-bench", dependencies: ["Core"]),
        .testTarget(name: "CoreTests", dependencies: ["Core"], exclude: ["Fixtures"]),
    ]
)
