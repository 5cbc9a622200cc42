// swift-tools-version:6.0
//
// An app built on Ferry as a dependency: its own job family, its own `ferry` command with that
// family registered, and an API-tier executable that enqueues the family's jobs, typed.
import Foundation
import PackageDescription

let package = Package(
    name: "Greetings",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "greetings-ferry", targets: ["GreetingsFerry"]),
        .executable(name: "greetings-api", targets: ["GreetingsAPI"]),
    ],
    dependencies: [
        // In an app of your own: .package(url: "https://github.com/<owner>/ferry", from: "0.1.0")
        .package(name: "Ferry", path: "../.."),
    ],
    targets: [
        // What the API tier and the workers share: names, arguments, defaults. Links the queue core only.
        .target(name: "GreetingsDefinitions", dependencies: [.product(name: "FerryQueue", package: "Ferry")]),
        // The handlers and the family (needs the worker runtime, and whatever the jobs call).
        .target(name: "GreetingsJobs", dependencies: [
            "GreetingsDefinitions",
            .product(name: "Ferry", package: "Ferry"),
        ]),
        // `greetings-ferry worker|up|admin|enqueue|stats|dead|…` with the Greetings family and Ferry's built-in jobs.
        .executableTarget(name: "GreetingsFerry", dependencies: [
            "GreetingsJobs",
            .product(name: "Ferry", package: "Ferry"),
            .product(name: "FerryJobs", package: "Ferry"),
        ]),
        // An API tier's side: enqueue typed jobs from async code.
        .executableTarget(name: "GreetingsAPI", dependencies: [
            "GreetingsDefinitions",
            .product(name: "FerryQueue", package: "Ferry"),
            .product(name: "FerryRedis", package: "Ferry"),
        ]),
    ]
)

// The Swift examples of the README and docs/, extracted by ops/examples (ops/doc_examples.py)
// and built as written: `readme-enqueue` (typed enqueues of Ferry's own jobs), `readme-app` (the
// whole app of "Write a job") and `doc-examples` (the blocks of docs/writing-jobs.md, with the
// job types they name). The extracted files are not in git; the targets exist only after an
// extraction.
for (target, file, product, dependencies) in [
    ("ReadmeEnqueue", "main.swift", "readme-enqueue", ["FerryJobs", "FerryQueue", "FerryRedis"]),
    ("ReadmeApp", "main.swift", "readme-app", ["Ferry"]),
    ("DocExamples", "Extracted.swift", "doc-examples", ["Ferry", "FerryHTTP", "FerryPostgres", "FerryQueue", "FerryRedis"]),
] where FileManager.default.fileExists(atPath: Context.packageDirectory + "/Sources/\(target)/\(file)") {
    package.targets.append(.executableTarget(name: target, dependencies: dependencies.map { .product(name: $0, package: "Ferry") }))
    package.products.append(.executable(name: product, targets: [target]))
}
