import Foundation
import XCTest
@testable import Distributed

/// The coordinator's reduce threads: every value of a pass is given to exactly one thread, pass
/// after pass, and `stop()` ends them.
final class ParameterTeamTests: XCTestCase {
    func testEveryValueIsPassedOnceAPass() {
        for threads in [1, 2, 3, 8] {
            let team = ParameterTeam(threads: threads)
            defer { team.stop() }
            for count in [0, 1, 63, 64, 65, 100, 4097, 203_540] {
                let hits = UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(count, 1))
                defer { hits.deallocate() }
                hits.initialize(repeating: 0)
                for _ in 0..<20 { team.run(count: count) { range in for i in range { hits[i] += 1 } } }
                XCTAssertTrue(hits[0..<count].allSatisfy { $0 == 20 }, "\(threads) threads, \(count) values")
            }
        }
    }

    /// Many short passes back to back: none is lost or run twice (a missed wake-up would hang here).
    func testManyPassesInARow() {
        let team = ParameterTeam(threads: 4)
        defer { team.stop() }
        let lock = NSLock()
        var total = 0, calls = 0
        for _ in 0..<20_000 {
            team.run(count: 256) { range in lock.withLock { total += range.count; calls += 1 } }
        }
        XCTAssertEqual(total, 20_000 * 256)
        XCTAssertEqual(calls, 20_000 * 4)
    }

    /// Unsplit, the pass is one call on the calling thread.
    func testAnUnsplitPassIsOneCall() {
        let team = ParameterTeam(threads: 4)
        defer { team.stop() }
        var ranges: [Range<Int>] = []
        team.run(count: 1000, split: false) { ranges.append($0) }
        XCTAssertEqual(ranges, [0..<1000])
    }
}
