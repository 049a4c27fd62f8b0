import Benchmark
import CrumbBenchmarkSupport
import CrumbCore

/// The HyperLogLog sketch (insert, merge, serialize, estimate) and the web aggregator (events recorded into
/// rows, rows turned into records, aggregators merged).
func registerAggregationBenchmarks() {
    // Well-mixed 64-bit hashes, as `VisitorHasher` hands them over.
    let hashes = (0..<100_000).map { HyperLogLog.mix(UInt64($0) &+ 0x9E37_79B9_7F4A_7C15) }
    func sketch(_ range: Range<Int>) -> HyperLogLog {
        var sketch = HyperLogLog()
        for index in range { sketch.insert(hash: hashes[index]) }
        return sketch
    }

    // MARK: HyperLogLog

    let dense = sketch(0..<100_000)
    let sparse = (0..<1_000).map { sketch($0 * 8..<($0 + 1) * 8) }

    Benchmark("hyperLogLog_insert_100kDistinct", configuration: Settings.perItem(100_000)) { _ in
        // Sparse, then dense past 2,048 touched registers.
        var sketch = HyperLogLog()
        for hash in hashes { sketch.insert(hash: hash) }
        blackHole(sketch)
    }

    Benchmark("hyperLogLog_insert_1kSketchesOf8", configuration: Settings.perItem(8_000)) { _ in
        // What most aggregator rows are: a handful of visitors, sparse.
        var sketches = [HyperLogLog](repeating: HyperLogLog(), count: 1_000)
        for index in 0..<8_000 { sketches[index % 1_000].insert(hash: hashes[index]) }
        blackHole(sketches)
    }

    Benchmark("hyperLogLog_insertAgain_dense_100k", configuration: Settings.perItem(100_000)) { _ in
        // Steady state: every hash seen before; no register changes.
        var sketch = dense
        for hash in hashes { sketch.insert(hash: hash) }
        blackHole(sketch)
    }
    Benchmark("hyperLogLog_merge_1kSparseIntoOne", configuration: Settings.perItem(1_000)) { _ in
        var union = HyperLogLog()
        for other in sparse { union.merge(other) }
        blackHole(union)
    }

    let otherDense = sketch(50_000..<100_000)
    Benchmark("hyperLogLog_merge_dense_100x", configuration: Settings.perItem(100)) { _ in
        var union = sketch(0..<50_000)
        for _ in 0..<100 { union.merge(otherDense) }
        blackHole(union)
    }

    Benchmark("hyperLogLog_serialize_dense_100x", configuration: Settings.perItem(100)) { _ in
        for _ in 0..<100 { blackHole(dense.serialized()) }
    }

    Benchmark("hyperLogLog_serialize_1kSparse", configuration: Settings.perItem(1_000)) { _ in
        for sketch in sparse { blackHole(sketch.serialized()) }
    }

    let denseBytes = dense.serialized()
    let sparseBytes = sparse.map { $0.serialized() }
    Benchmark("hyperLogLog_deserialize_dense_100x", configuration: Settings.perItem(100)) { _ in
        for _ in 0..<100 { blackHole(try! HyperLogLog(serialized: denseBytes)) }
    }

    Benchmark("hyperLogLog_deserialize_1kSparse", configuration: Settings.perItem(1_000)) { _ in
        for bytes in sparseBytes { blackHole(try! HyperLogLog(serialized: bytes)) }
    }

    Benchmark("hyperLogLog_estimate_dense_100x", configuration: Settings.perItem(100)) { _ in
        for _ in 0..<100 { blackHole(dense.estimate) }
    }

    // MARK: Web aggregator

    // 20,000 events from generated lines: counted under total, path and status class, the way
    // `WebLogProcessor.handle` counts them (value ids interned from the path's bytes).
    let statusNames = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"]
    func record(_ fields: Fixtures.Fields, into aggregator: inout WebAggregator) {
        let total = aggregator.valueID(.total, "all")
        let statusValues = statusNames.map { aggregator.valueID(.statusClass, $0) }
        for index in fields.targets.indices {
            let ordinal = aggregator.bucketOrdinal(for: fields.times[index])
            let visitor = hashes[index % hashes.count]
            let status = fields.statuses[index]
            let bytes = fields.sizes[index]
            aggregator.add(bucket: ordinal, .total, value: total, bytes: bytes, status: status, visitor: visitor)
            let path = fields.targets[index].withUnsafeBytes { aggregator.valueID(.path, $0) }
            aggregator.add(bucket: ordinal, .path, value: path, bytes: bytes, status: status, visitor: visitor)
            let statusClass = status >= 100 && status < 600 ? statusValues[status / 100 - 1] : statusValues[5]
            aggregator.add(bucket: ordinal, .statusClass, value: statusClass, bytes: bytes, status: status, visitor: visitor)
        }
    }

    Benchmark("webAggregator_record_20kEvents", configuration: Settings.perItem(Fixtures.fieldCount),
              closure: { _ in
                  var aggregator = WebAggregator(bucket: .hour)
                  record(Fixtures.fields, into: &aggregator)
                  blackHole(aggregator.rowCount)
              },
              setup: { _ = Fixtures.fields })

    let warmAggregator = Shared(WebAggregator(bucket: .hour))
    Benchmark("webAggregator_recordAgain_20kEvents", configuration: Settings.perItem(Fixtures.fieldCount),
              closure: { _ in
                  // Steady state: every row, value and visitor seen before.
                  record(Fixtures.fields, into: &warmAggregator.value)
                  blackHole(warmAggregator.value.rowCount)
              },
              setup: { record(Fixtures.fields, into: &warmAggregator.value) })

    let filled = Shared(WebAggregator(bucket: .hour))
    Benchmark("webAggregator_records_minCount5", configuration: Settings.perItem(10_000),
              closure: { _ in blackHole(filled.value.records(minCount: 5)) },
              setup: { if filled.value.rowCount == 0 { record(Fixtures.fields, into: &filled.value) } })

    // A batch run's spill and final pass, without the file: every row drained (`drainRows`, serialized
    // sketches) and absorbed into a fresh aggregator from its bytes (`absorb(_: RowView)`).
    Benchmark("webAggregator_spillAndAbsorb_20kEvents", configuration: Settings.perItem(10_000),
              closure: { _ in
                  var spilled = filled.value
                  var merged = WebAggregator(bucket: .hour)
                  spilled.drainRows(where: { _ in true }) { try! merged.absorb($0) }
                  blackHole(merged.rowCount)
              },
              setup: { if filled.value.rowCount == 0 { record(Fixtures.fields, into: &filled.value) } })

    Benchmark("webAggregator_merge_20kEvents", configuration: Settings.perItem(10_000),
              closure: { _ in
                  var merged = WebAggregator(bucket: .hour)
                  merged.merge(filled.value)
                  merged.merge(filled.value)
                  blackHole(merged.rowCount)
              },
              setup: { if filled.value.rowCount == 0 { record(Fixtures.fields, into: &filled.value) } })
}
