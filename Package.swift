// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "crumb",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "crumb", targets: ["crumb"]),
        .library(name: "CrumbCore", targets: ["CrumbCore"]),
        .library(name: "CrumbIO", targets: ["CrumbIO"]),
        .library(name: "CrumbSamples", targets: ["CrumbSamples"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // The system zlib (Debian: zlib1g-dev).
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // ISA-L's inflater, dlopen()ed at run time when libisal.so.2 is present (Debian: libisal2); built against
        // <isa-l/igzip_lib.h> when libisal-dev is installed, else a stub that reports ISA-L unavailable.
        .target(
            name: "CIsal",
            linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]
        ),
        // A cache-line prefetch hint for the hot path's fixed caches (header only).
        .target(name: "CPrefetch"),
        // Starting a file's writeback before its fsync (sync_file_range, which Swift's Glibc does not declare).
        .target(name: "CWriteback"),
        // Pure: bytes in, events and aggregates out. No I/O.
        .target(
            name: "CrumbCore",
            dependencies: [
                "CPrefetch",
                .product(name: "Crypto", package: "swift-crypto"),
                // AES as a block permutation, for prefix-preserving (CryptoPAn-style) IP anonymization.
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                // Talk-time percentiles (p50, p95) for call trends, mergeable across workers and runs.
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // Effects: decompression, inputs, sinks, manifest, runners.
        .target(
            name: "CrumbIO",
            dependencies: [
                "CrumbCore",
                "CZlib",
                "CIsal",
                "CWriteback",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, for binding trend rows without GRDB's per-row argument arrays.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Deterministic generator of realistic logs, for samples, tests and benchmarks.
        .target(name: "CrumbSamples", dependencies: ["CrumbCore"]),
        .executableTarget(
            name: "crumb",
            dependencies: [
                "CrumbCore",
                "CrumbIO",
                "CrumbSamples",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "CrumbTestSupport", dependencies: ["CrumbCore", "CrumbIO", "CrumbSamples"]),
        .testTarget(name: "CrumbCoreTests", dependencies: ["CrumbCore", "CrumbTestSupport", "CrumbSamples"]),
        .testTarget(name: "CrumbIOTests", dependencies: ["CrumbIO", "CrumbCore", "CrumbTestSupport", "CrumbSamples"]),
        .testTarget(name: "CrumbCLITests", dependencies: ["crumb", "CrumbTestSupport", "CrumbSamples"], exclude: ["Snapshots"]),
    ]
)
