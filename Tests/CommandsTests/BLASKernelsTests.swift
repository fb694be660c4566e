import XCTest
@testable import Commands

/// What dptrain decides about OpenBLAS's kernels, and the line that says so.
final class BLASKernelsTests: XCTestCase {
    let avx512: Set<String> = ["avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"]

    func testDecisions() throws {
        XCTAssertEqual(try BLASKernels.decide(current: "Cooperlake", cpuFlags: avx512, environment: [:]).decision,
                       .kept(source: "auto-detected"))
        let replaced = try BLASKernels.decide(current: "Prescott", cpuFlags: avx512, environment: [:])
        XCTAssertEqual(replaced.decision, .replaced(core: "Prescott", source: "auto-detected"))
        XCTAssertEqual(replaced.load, "SkylakeX")
        XCTAssertEqual(try BLASKernels.decide(current: "Haswell", cpuFlags: avx512, environment: ["OPENBLAS_CORETYPE": "haswell"]).decision,
                       .replaced(core: "Haswell", source: "OPENBLAS_CORETYPE=haswell"))
        let forced = try BLASKernels.decide(current: "Cooperlake", cpuFlags: avx512, environment: ["DPTRAIN_BLAS_CORE": "haswell"])
        XCTAssertEqual(forced.decision, .forced(core: "Haswell"))
        XCTAssertEqual(forced.load, "Haswell")
        XCTAssertNil(try BLASKernels.decide(current: "Haswell", cpuFlags: avx512, environment: ["DPTRAIN_BLAS_CORE": "Haswell"]).load)
        XCTAssertThrowsError(try BLASKernels.decide(current: "Haswell", cpuFlags: avx512, environment: ["DPTRAIN_BLAS_CORE": "Foo"]))
    }

    func testTheDecisionSurvivesTheReexecution() {
        for decision: BLASKernels.Decision in [.kept(source: "OPENBLAS_CORETYPE=Zen"), .replaced(core: "Prescott", source: "auto-detected"),
                                               .forced(core: "Haswell")] {
            XCTAssertEqual(BLASKernels.Decision(environmentValue: decision.environmentValue), decision)
        }
        XCTAssertNil(BLASKernels.Decision(environmentValue: ""))
    }

    func testTheLineSaysWhatHappened() {
        func line(_ decision: BLASKernels.Decision?, _ running: String) -> String {
            BLASKernels.summary(decision: decision, running: running, library: "OpenBLAS 0.3.21")
        }
        XCTAssertEqual(line(.kept(source: "auto-detected"), "Cooperlake"),
                       "BLAS: OpenBLAS 0.3.21, Cooperlake kernels (OpenBLAS's own choice, kept: none is faster on this CPU)")
        XCTAssertEqual(line(.replaced(core: "Prescott", source: "auto-detected"), "SkylakeX"),
                       "BLAS: OpenBLAS 0.3.21, SkylakeX kernels (dptrain replaced Prescott (OpenBLAS's own choice), slower on this CPU; set DPTRAIN_BLAS_CORE to force one)")
        XCTAssertEqual(line(.replaced(core: "Haswell", source: "OPENBLAS_CORETYPE=Haswell"), "SkylakeX"),
                       "BLAS: OpenBLAS 0.3.21, SkylakeX kernels (dptrain replaced Haswell (from OPENBLAS_CORETYPE=Haswell), slower on this CPU; set DPTRAIN_BLAS_CORE to force one)")
        XCTAssertEqual(line(.forced(core: "Haswell"), "Haswell"), "BLAS: OpenBLAS 0.3.21, Haswell kernels (forced by DPTRAIN_BLAS_CORE=Haswell)")
        XCTAssertEqual(line(.forced(core: "SapphireRapids"), "Cooperlake"),
                       "BLAS: OpenBLAS 0.3.21, Cooperlake kernels (DPTRAIN_BLAS_CORE=SapphireRapids asked for SapphireRapids, which OpenBLAS does not run on this CPU)")
    }
}
