import CrumbCore
import Testing

/// Frames `input` cut into `chunkSize`-byte chunks and returns what came out, as text.
private func frames(_ input: String, chunkSize: Int, max: Int = 16) -> [String] {
    var framer = LineFramer(maxLineLength: max)
    var out: [String] = []
    let bytes = Array(input.utf8)
    let collect: (LineFramer.Frame) -> Void = { frame in
        switch frame {
        case .line(let line, let number): out.append("\(number):\(String(decoding: line, as: UTF8.self))")
        case .tooLong(let number, let length): out.append("\(number):tooLong(\(length))")
        }
    }
    bytes.withUnsafeBytes { all in
        var offset = 0
        while offset < all.count {
            let end = min(all.count, offset + chunkSize)
            framer.feed(UnsafeRawBufferPointer(rebasing: all[offset..<end]), collect)
            offset = end
        }
        framer.finish(collect)
    }
    return out
}

struct LineFramerTests {
    static let cases: [(input: String, expected: [String])] = [
        ("", []),
        ("a\n", ["1:a"]),
        ("a\nb\n", ["1:a", "2:b"]),
        ("a\r\nb\r\n", ["1:a", "2:b"]),
        ("no newline at end", ["1:tooLong(17)"]),
        ("last", ["1:last"]),
        ("\n\n", ["1:", "2:"]),
        ("x\r", ["1:x"]),
        ("exactly16bytes!!\nok\n", ["1:exactly16bytes!!", "2:ok"]),
        ("exactly16bytes!!\r\nok\n", ["1:exactly16bytes!!", "2:ok"]),
        ("seventeen bytes!!\nok\n", ["1:tooLong(17)", "2:ok"]),
        ("a very long line that goes on and on\nshort\nanother very long line here\r\n", ["1:tooLong(36)", "2:short", "3:tooLong(27)"]),
        ("mid\rcr\n", ["1:mid\rcr"]),
    ]

    @Test(arguments: cases, [1, 2, 3, 5, 7, 64])
    func framesIdenticallyAtEveryChunkSize(_ testCase: (input: String, expected: [String]), chunkSize: Int) {
        #expect(frames(testCase.input, chunkSize: chunkSize) == testCase.expected)
    }

    @Test func neverBuffersMoreThanTheLimit() {
        // A 1 MiB line with a 16-byte limit is skipped as it streams past, then framing resumes.
        let long = String(repeating: "x", count: 1 << 20)
        #expect(frames(long + "\nafter\n", chunkSize: 4096) == ["1:tooLong(\(1 << 20))", "2:after"])
    }

    @Test func discardsACutLastLine() {
        var framer = LineFramer(maxLineLength: 8)
        var lines = 0
        Array("one\ntw".utf8).withUnsafeBytes { framer.feed($0) { _ in lines += 1 } }
        let hadPartial = framer.discardPartialLine()
        #expect(hadPartial)
        framer.finish { _ in lines += 1 }
        #expect(lines == 1)
        let hadAnother = framer.discardPartialLine()
        #expect(!hadAnother)
    }

    @Test func countsLines() {
        var framer = LineFramer(maxLineLength: 8)
        Array("1\n2\n3".utf8).withUnsafeBytes { framer.feed($0) { _ in } }
        framer.finish { _ in }
        #expect(framer.lineCount == 3)
    }
}
