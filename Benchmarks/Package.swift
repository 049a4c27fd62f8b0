// swift-tools-version: 6.1
// A nested package, so that package-benchmark and its allocator hooks stay out of crumb's own product.
// Run: cd Benchmarks && swift package benchmark   (README.md: thresholds, CI, allocation stacks)
import PackageDescription

let package = Package(
    name: "CrumbBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "crumb", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Data sets from crumb's generator and the shared configuration (metrics, allocation tolerance).
        .target(
            name: "CrumbBenchmarkSupport",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CrumbCore", package: "crumb"),
                .product(name: "CrumbSamples", package: "crumb"),
            ]
        ),
        // Per stage: parsers, detectors, anonymizers, sketch, aggregator, processors (steady state included).
        // Needs CrumbCore only, so that CI's allocation check builds neither GRDB nor Yams.
        .executableTarget(
            name: "CrumbBenchmarks",
            dependencies: [
                "CrumbBenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CrumbCore", package: "crumb"),
                .product(name: "CrumbSamples", package: "crumb"),
            ],
            path: "Benchmarks/CrumbBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // End to end: a gzip file to written trends, through CrumbIO.
        .executableTarget(
            name: "CrumbEndToEndBenchmarks",
            dependencies: [
                "CrumbBenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CrumbCore", package: "crumb"),
                .product(name: "CrumbIO", package: "crumb"),
            ],
            path: "Benchmarks/CrumbEndToEndBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
