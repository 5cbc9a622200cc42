// swift-tools-version:6.0
//
// Ferry — a job-queue worker platform for server-side Swift.
//
// Targets follow the layers in DESIGN.md:
//   1. C bindings     CHiredis, CLibPQ, CCurl (+ CCurlShim for curl's variadic calls)
//   2. Clients        FerryRedis, FerryPostgres, FerryHTTP (HTTP + SMTP)
//   6. Executable     ferry (FerryCLI)
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
    ],
    targets: [
        // MARK: Layer 1 — C bindings
        // hiredis.pc carries -D_FILE_OFFSET_BITS=64, which SwiftPM rejects: link by name instead.
        .systemLibrary(
            name: "CHiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Typed wrappers for curl_easy_setopt / curl_easy_getinfo, which are variadic.
        .target(name: "CCurlShim", dependencies: ["CCurl"]),

        // MARK: Layer 2 — clients
        // Checked time conversions shared by every layer (no dependencies).
        .target(name: "FerrySupport", swiftSettings: strictSwift),
        .target(name: "FerryConnectionPool", swiftSettings: strictSwift),
        .target(name: "FerryProcess", swiftSettings: strictSwift),
        .target(
            name: "FerryRedis",
            dependencies: ["CHiredis", "FerryConnectionPool", "FerrySupport"],
            swiftSettings: strictSwift
        ),
        .target(
            name: "FerryPostgres",
            dependencies: ["CLibPQ", "FerryConnectionPool", "FerrySupport"],
            swiftSettings: strictSwift
        ),
        .target(
            name: "FerryHTTP",
            dependencies: ["CCurl", "CCurlShim", "FerrySupport"],
            swiftSettings: strictSwift
        ),

        // MARK: Layer 3 — queue core (knows no particular job)
        .target(
            name: "FerryQueue",
            dependencies: ["FerryRedis", "FerrySupport"],
            swiftSettings: strictSwift
        ),

        // MARK: Layer 4 — runtime: handlers, worker processes, supervisor
        .target(
            name: "FerryWorker",
            dependencies: [
                "FerryQueue", "FerryRedis", "FerryPostgres", "FerryHTTP", "FerryProcess", "FerrySupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSwift
        ),

        .target(
            name: "FerryScheduler",
            dependencies: [
                "FerryQueue",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
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
            ],
            swiftSettings: strictSwift
        ),

        // MARK: Layer 5 — jobs, one folder per family
        .target(
            name: "FerryJobs",
            dependencies: ["FerryWorker", "FerryQueue", "FerryRedis", "FerryPostgres"],
            swiftSettings: strictSwift
        ),

        // MARK: Layer 6 — the `ferry` command
        .executableTarget(
            name: "FerryCLI",
            dependencies: [
                "FerryRedis", "FerryPostgres", "FerryHTTP", "FerryQueue", "FerryWorker", "FerryJobs", "FerryScheduler", "FerryAdmin",
                "FerrySupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),

        // Benchmarks, run by ops/bench.
        .executableTarget(
            name: "FerryBench",
            dependencies: ["FerryQueue", "FerryRedis", "FerryPostgres", "FerryJobs", "FerryTestSupport"],
            swiftSettings: strictSwift
        ),

        // MARK: Tests (real Redis, real PostgreSQL, local HTTP and SMTP servers — see ops/test)
        .target(
            name: "FerryTestSupport",
            dependencies: ["FerryProcess"],
            path: "Tests/FerryTestSupport",
            swiftSettings: strictSwift
        ),
        .testTarget(name: "FerryRedisTests", dependencies: ["FerryRedis", "FerryTestSupport"]),
        .testTarget(name: "FerryPostgresTests", dependencies: ["FerryPostgres", "FerryTestSupport"]),
        .testTarget(name: "FerryHTTPTests", dependencies: ["FerryHTTP", "FerryTestSupport"]),
        .testTarget(name: "FerryQueueTests", dependencies: ["FerryQueue", "FerryRedis", "FerrySupport", "FerryTestSupport"]),
        .testTarget(
            name: "FerryAdminTests",
            dependencies: ["FerryHTTP", "FerryQueue", "FerryRedis", "FerryTestSupport", .product(name: "Yams", package: "Yams")]
        ),
        .testTarget(name: "FerryJobsTests", dependencies: ["FerryJobs", "FerryPostgres", "FerryTestSupport"]),
        .testTarget(name: "FerrySchedulerTests", dependencies: ["FerryScheduler", "FerryQueue", "FerryRedis", "FerryTestSupport"]),
        .testTarget(name: "FerryWorkerTests", dependencies: ["FerryWorker", "FerryQueue", "FerryRedis", "FerryTestSupport"]),
    ]
)
