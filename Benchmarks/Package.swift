// swift-tools-version: 6.1
// A nested package, so that package-benchmark and its allocator hooks stay out of crumb's own product.
// Run: cd Benchmarks && swift package benchmark
import PackageDescription

let package = Package(
    name: "CrumbBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "crumb", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "CrumbBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CrumbCore", package: "crumb"),
                .product(name: "CrumbIO", package: "crumb"),
                .product(name: "CrumbSamples", package: "crumb"),
            ],
            path: "Benchmarks/CrumbBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
