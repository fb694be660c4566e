import Foundation
import MLP
import Plan
import XCTest
@testable import Training

/// The compute precision belongs to the run's configuration: it travels in the welcome and the
/// checkpoint, and configs from before it mean float32.
final class ComputePrecisionConfigTests: XCTestCase {
    func testAResumeWithAnotherComputePrecisionIsAnotherRun() {
        let float32 = TrainingConfig.standard()
        var bf16 = float32
        bf16.compute = .bf16
        XCTAssertEqual(bf16.differences(from: float32), ["--compute bf16 (the checkpoint has float32)"])
        var spelledOut = float32
        spelledOut.compute = .float32
        XCTAssertEqual(spelledOut.differences(from: float32), [])
    }

    func testAConfigWithoutTheFieldIsFloat32AndBF16RoundTrips() throws {
        let float32 = TrainingConfig.standard()
        let json = try JSONEncoder().encode(float32)
        XCTAssertFalse(String(decoding: json, as: UTF8.self).contains("compute"), "float32 configs are written as before")
        XCTAssertEqual(try JSONDecoder().decode(TrainingConfig.self, from: json).computePrecision, .float32)
        var bf16 = float32
        bf16.compute = .bf16
        XCTAssertEqual(try JSONDecoder().decode(TrainingConfig.self, from: try JSONEncoder().encode(bf16)).computePrecision, .bf16)
    }
}
