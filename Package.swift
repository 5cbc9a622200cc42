// swift-tools-version:6.0
//
// Ferry — a job-queue worker platform for server-side Swift.
//
// Targets follow the layers in ARCHITECTURE.md, one folder each under Sources/:
//   Bindings  CHiredis, CLibPQ, CCurl (+ CCurlShim for curl's variadic calls)
//   Support   FerrySupport (time, redaction, stable hashes), FerryConnectionPool, FerryProcess, FerryLifecycle
//   Clients   FerryRedis, FerryPostgres, FerryHTTP (HTTP + SMTP)
//   Core      FerryQueue — the queue in Redis; knows no particular job
//   Runtime   FerryWorker, FerryScheduler, FerryAdmin, FerryEmbedded
//   App       Ferry — job families composed into the `ferry` command (a library: apps build their own)
//   Jobs      FerryJobs — Ferry's own job families, one folder each, its SQL beside it
//   Apps      ferry (FerryCLI: Ferry with FerryJobs' families), ferry-bench (FerryBench)
import PackageDescription

let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Ferry",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "FerryRedis", targets: ["FerryRedis"]),
        .library(name: "FerryPostgres", targets: ["FerryPostgres"]),
        .library(name: "FerryHTTP", targets: ["FerryHTTP"]),
        .library(name: "FerryQueue", targets: ["FerryQueue"]),
        .library(name: "FerryWorker", targets: ["FerryWorker"]),
        .library(name: "FerryScheduler", targets: ["FerryScheduler"]),
        .library(name: "FerryAnonymizer", targets: ["FerryAnonymizer"]),
        .library(name: "Ferry", targets: ["Ferry"]),
        .library(name: "FerryJobs", targets: ["FerryJobs"]),
        .executable(name: "ferry", targets: ["FerryCLI"]),
        .executable(name: "ferry-bench", targets: ["FerryBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // MARK: Layer 1 — C bindings
        // hiredis.pc carries -D_FILE_OFFSET_BITS=64, which SwiftPM rejects: link by name instead.
        .systemLibrary(
            name: "CHiredis", path: "Sources/Bindings/CHiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .systemLibrary(
            name: "CLibPQ", path: "Sources/Bindings/CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CCurl", path: "Sources/Bindings/CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // PCRE2 with its JIT, for the anonymizer's custom patterns.
        .systemLibrary(
            name: "CPCRE2", path: "Sources/Bindings/CPCRE2",
            pkgConfig: "libpcre2-8",
            providers: [.apt(["libpcre2-dev"])]
        ),
        // Typed wrappers for curl_easy_setopt / curl_easy_getinfo, which are variadic.
        .target(name: "CCurlShim", dependencies: ["CCurl"], path: "Sources/Bindings/CCurlShim"),

        // MARK: Layer 2 — clients
        // Checked time conversions shared by every layer (no dependencies).
        .target(name: "FerrySupport", path: "Sources/Support/FerrySupport", swiftSettings: strictSwift),
        .target(name: "FerryConnectionPool", path: "Sources/Support/FerryConnectionPool", swiftSettings: strictSwift),
        .target(name: "FerryProcess", path: "Sources/Support/FerryProcess", swiftSettings: strictSwift),
        // Blocking loops (supervisor, scheduler) as swift-service-lifecycle services.
        .target(
            name: "FerryLifecycle",
            dependencies: [.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")], path: "Sources/Support/FerryLifecycle",
            swiftSettings: strictSwift
        ),
        .target(
            name: "FerryRedis",
            dependencies: ["CHiredis", "FerryConnectionPool", "FerrySupport"], path: "Sources/Clients/FerryRedis",
            swiftSettings: strictSwift
        ),
        .target(
            name: "FerryPostgres",
            dependencies: ["CLibPQ", "FerryConnectionPool", "FerrySupport"], path: "Sources/Clients/FerryPostgres",
            swiftSettings: strictSwift
        ),
        .target(
            name: "FerryHTTP",
            dependencies: ["CCurl", "CCurlShim", "FerrySupport"], path: "Sources/Clients/FerryHTTP",
            swiftSettings: strictSwift
        ),

        // PII detection and anonymization (Presidio's vocabulary); knows nothing of queues.
        .target(
            name: "FerryAnonymizer",
            dependencies: [
                "CPCRE2",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ], path: "Sources/Anonymizer/FerryAnonymizer",
            swiftSettings: strictSwift
        ),

        // MARK: Layer 3 — queue core (knows no particular job)
        .target(
            name: "FerryQueue",
            dependencies: ["FerryRedis", "FerrySupport"], path: "Sources/Core/FerryQueue",
            swiftSettings: strictSwift
        ),

        // MARK: Layer 4 — runtime: handlers, worker processes, supervisor
        .target(
            name: "FerryWorker",
            dependencies: [
                "FerryQueue", "FerryRedis", "FerryProcess", "FerrySupport", "FerryLifecycle",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Yams", package: "Yams"),
            ], path: "Sources/Runtime/FerryWorker",
            swiftSettings: strictSwift
        ),

        // Celery's clients in front of Ferry's workers: task messages from kombu's Redis lists in,
        // results where Celery's Redis backend keeps them.
        .target(
            name: "FerryCelery",
            dependencies: [
                "FerryQueue", "FerryRedis", "FerryWorker", "FerrySupport",
                .product(name: "Logging", package: "swift-log"),
            ], path: "Sources/Runtime/FerryCelery",
            swiftSettings: strictSwift
        ),

        .target(
            name: "FerryScheduler",
            dependencies: [
                "FerryQueue", "FerryLifecycle", "FerrySupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ], path: "Sources/Runtime/FerryScheduler",
            swiftSettings: strictSwift
        ),

        // The admin endpoint, in a target of its own so worker edits never relink Hummingbird.
        .target(
            name: "FerryAdmin",
            dependencies: [
                "FerryQueue", "FerryRedis", "FerryScheduler", "FerrySupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
            ], path: "Sources/Runtime/FerryAdmin",
            // The dashboard's templates are compiled into the binary: `ferry` is one file to deploy.
            resources: [.embedInCode("Dashboard/Templates"), .embedInCode("Dashboard/Assets")],
            swiftSettings: strictSwift
        ),

        // Redis and PostgreSQL as child processes of `ferry up` when none is configured.
        .target(
            name: "FerryEmbedded",
            dependencies: [
                "FerryProcess", "FerryRedis", "FerryPostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ], path: "Sources/Runtime/FerryEmbedded",
            swiftSettings: strictSwift
        ),

        // MARK: Layer 5 — the app: job families composed into the `ferry` command
        .target(
            name: "Ferry",
            dependencies: [
                "FerryRedis", "FerryPostgres", "FerryHTTP", "FerryQueue", "FerryWorker", "FerryScheduler", "FerryAdmin", "FerryCelery",
                "FerrySupport", "FerryEmbedded",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ], path: "Sources/Ferry",
            swiftSettings: strictSwift
        ),

        // MARK: Layer 6 — Ferry's own job families, one folder each
        .target(
            name: "FerryJobs",
            dependencies: [
                "Ferry", "FerryWorker", "FerryQueue", "FerryRedis", "FerryPostgres", "FerryHTTP", "FerrySupport", "FerryAnonymizer", "FerryAdmin",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Mustache", package: "swift-mustache"),
            ], path: "Sources/Jobs",
            // Async handlers run on their caller's executor (the worker thread's loop) with no switch.
            swiftSettings: strictSwift + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
        ),

        // MARK: Layer 7 — the `ferry` command: Ferry with its own families
        .executableTarget(
            name: "FerryCLI", dependencies: ["Ferry", "FerryJobs"], path: "Sources/Apps/FerryCLI",
            swiftSettings: strictSwift
        ),

        // Benchmarks, run by ops/bench.
        .executableTarget(
            name: "FerryBench",
            dependencies: ["FerryQueue", "FerryRedis", "FerryPostgres", "FerryHTTP", "FerryProcess", "FerryJobs", "FerryAnonymizer"], path: "Sources/Apps/FerryBench",
            swiftSettings: strictSwift
        ),

        // MARK: Tests (real Redis, real PostgreSQL, local HTTP and SMTP servers — see ops/test)
        .target(
            name: "FerryTestSupport",
            dependencies: ["FerryProcess"],
            path: "Tests/FerryTestSupport",
            swiftSettings: strictSwift
        ),
        .testTarget(name: "FerrySupportTests", dependencies: ["FerrySupport"]),
        .testTarget(name: "FerryAnonymizerTests", dependencies: ["FerryAnonymizer"]),
        .testTarget(name: "FerryRedisTests", dependencies: ["FerryRedis", "FerryTestSupport"]),
        .testTarget(name: "FerryPostgresTests", dependencies: ["FerryPostgres", "FerryTestSupport"]),
        .testTarget(name: "FerryHTTPTests", dependencies: ["FerryHTTP", "FerryTestSupport"]),
        .testTarget(name: "FerryQueueTests", dependencies: ["FerryQueue", "FerryRedis", "FerryTestSupport"]),
        .testTarget(
            name: "FerryAdminTests",
            dependencies: ["FerryAdmin", "FerryHTTP", "FerryPostgres", "FerryQueue", "FerryRedis", "FerryProcess", "FerryTestSupport", .product(name: "Yams", package: "Yams")]
        ),
        .testTarget(name: "FerryJobsTests", dependencies: ["Ferry", "FerryJobs", "FerryHTTP", "FerrySupport", "FerryWorker", "FerryQueue", "FerryRedis", "FerryPostgres", "FerryProcess", "FerryScheduler", "FerryTestSupport"]),
        .testTarget(
            name: "FerrySchedulerTests",
            dependencies: ["FerryScheduler", "FerryQueue", "FerryRedis", "FerryProcess", "FerryTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "FerryCeleryTests", dependencies: ["FerryCelery", "FerryWorker", "FerryQueue", "FerryRedis", "FerryProcess", "FerryTestSupport"]),
        .testTarget(name: "FerryWorkerTests", dependencies: ["FerryWorker", "FerryQueue", "FerryRedis", "FerryProcess", "FerryTestSupport"]),
        .testTarget(name: "FerryCLITests", dependencies: ["FerryHTTP", "FerryPostgres", "FerryQueue", "FerryRedis", "FerryProcess", "FerryTestSupport"]),
    ]
)
