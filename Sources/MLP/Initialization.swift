extension ModelSpec {
    /// A fresh parameter vector (P): weights drawn by `initialization` from `seed`, biases zero.
    public func initialParameters(_ initialization: Initialization, seed: UInt64) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        let layout = ParameterLayout(self)
        var parameters = [Float](repeating: 0, count: layout.parameterCount)
        for layer in layout.layers {
            let fanIn = Float(layer.fanIn), fanOut = Float(layer.fanOut)
            for i in layer.weightOffset..<(layer.weightOffset + layer.weightCount) {
                switch initialization {
                case .uniform:
                    parameters[i] = generator.nextUnitFloat() - 0.5
                case .he:
                    parameters[i] = generator.nextGaussian() * (2 / fanIn).squareRoot()
                case .xavier:
                    let limit = (6 / (fanIn + fanOut)).squareRoot()
                    parameters[i] = (2 * generator.nextUnitFloat() - 1) * limit
                }
            }
        }
        return parameters
    }
}
