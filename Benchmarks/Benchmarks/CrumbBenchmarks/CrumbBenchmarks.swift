import Benchmark

/// crumb's per-stage benchmarks: parsers, privacy (detectors, anonymizers, visitor ids), aggregation (sketch,
/// aggregator) and processors, with the steady-state allocation checks. End to end (gzip → trends) is
/// `CrumbEndToEndBenchmarks`. Allocation counts are the compared figures (`Thresholds/`, checked by
/// `.ci/run`); instruction counts and throughput are for reading. Wall-clock ratios against zcat and
/// GoAccess come from `scripts/compare.sh`.
let benchmarks: @Sendable () -> Void = {
    registerParserBenchmarks()
    registerPrivacyBenchmarks()
    registerAggregationBenchmarks()
    registerProcessorBenchmarks()
}
