/// Clipping of a step's gradient by its global L2 norm (`--clip-norm`): when the mean gradient
/// (the sum over `sampleCount` samples) is longer than `maxNorm`, the sum is scaled so that it
/// is `maxNorm` long. The norm is taken of the step's summed gradient after the exact sum, in
/// double precision in index order, so it is the same number for any number of workers and
/// threads, and so are the clipped weights. Returns the mean gradient's norm before clipping.
@discardableResult
public func clipByGlobalNorm(_ gradientSum: UnsafeMutableBufferPointer<Float>, sampleCount: Int, maxNorm: Float) -> Double {
    precondition(sampleCount > 0 && maxNorm > 0)
    var squares: Double = 0
    for value in gradientSum { squares += Double(value) * Double(value) }
    let norm = squares.squareRoot() / Double(sampleCount)
    guard norm > Double(maxNorm) else { return norm }
    let scale = Float(Double(maxNorm) / norm)
    for i in gradientSum.indices { gradientSum[i] *= scale }
    return norm
}
