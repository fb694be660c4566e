import XCTest
@testable import MLP

/// Each training image's distortion: a function of the seed, the epoch and the image alone.
final class AugmentationTests: XCTestCase {
    let side = 28

    /// A bright 6x6 square on a dark background, placed at (x, y).
    func square(x: Int, y: Int) -> [Float] {
        var image = [Float](repeating: 0, count: side * side)
        for row in y..<(y + 6) { for column in x..<(x + 6) { image[row * side + column] = 1 } }
        return image
    }

    func distorted(_ kind: AugmentationKind, _ images: [Float], seed: UInt64 = 1, epoch: Int = 1) -> [Float] {
        let augmentation = Augmentation(kind: kind, seed: seed, epoch: epoch, side: side)
        var images = images
        let rowCount = images.count / (side * side)
        var scratch = [Float](repeating: 0, count: augmentation.scratchCount)
        images.withUnsafeMutableBufferPointer { rows in
            scratch.withUnsafeMutableBufferPointer { augmentation.apply(rows.baseAddress!, rows: rowCount, scratch: $0.baseAddress!) }
        }
        return images
    }

    func testAShiftMovesTheImageByAtMostTwoPixelsKeepingItsInk() {
        let image = square(x: 11, y: 11)
        var moved = 0
        for epoch in 1...8 {
            let shifted = distorted(.shift, image, epoch: epoch)
            XCTAssertEqual(shifted.reduce(0, +), 36, "epoch \(epoch): the square is all there")
            let firstInk = shifted.firstIndex(of: 1)!
            XCTAssertLessThanOrEqual(abs(firstInk / side - 11), 2)
            XCTAssertLessThanOrEqual(abs(firstInk % side - 11), 2)
            if shifted != image { moved += 1 }
        }
        XCTAssertGreaterThanOrEqual(moved, 5, "most epochs move it")
    }

    /// The same image gets the same distortion wherever it sits in a batch, and whoever
    /// computes it; another epoch or another seed draws another.
    func testTheDrawDependsOnTheImageTheEpochAndTheSeedOnly() {
        let a = square(x: 10, y: 12), b = square(x: 12, y: 9)
        for kind in AugmentationKind.allCases {
            let alone = distorted(kind, a)
            let batch = distorted(kind, b + a)
            XCTAssertEqual(Array(batch[(side * side)...]), alone, "\(kind): its place in the batch changed its draw")
            XCTAssertNotEqual(alone, a, "\(kind) changed nothing")
            // A shift has 25 outcomes: over six images, another epoch or seed must draw another for some.
            let images = (0..<6).map { square(x: 8 + $0, y: 14 - $0) }
            let drawn = images.map { distorted(kind, $0) }
            XCTAssertNotEqual(images.map { distorted(kind, $0, epoch: 2) }, drawn, "\(kind): epoch 2 drew the same")
            XCTAssertNotEqual(images.map { distorted(kind, $0, seed: 2) }, drawn, "\(kind): seed 2 drew the same")
        }
    }

    /// The affine and elastic maps move ink, not make or lose much of it, and keep it in range.
    func testAffineAndElasticKeepTheImagesInk() {
        let image = square(x: 11, y: 11)
        for kind in [AugmentationKind.affine, .elastic] {
            for epoch in 1...5 {
                let result = distorted(kind, image, epoch: epoch)
                XCTAssertEqual(result.reduce(0, +), 36, accuracy: 36 * 0.35, "\(kind) epoch \(epoch)")
                XCTAssertTrue(result.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(kind): bilinear sampling stays between the pixels' values")
            }
        }
    }

    func testOnlySquareImagesAreDistorted() {
        XCTAssertEqual(Augmentation.side(features: 784), 28)
        XCTAssertNil(Augmentation.side(features: 785))
        XCTAssertNil(Augmentation.side(features: 16))
    }
}
