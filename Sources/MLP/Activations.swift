import Foundation

// Each activation's forward beside its backward. Backward works from the
// activation's output A, which is all that sigmoid, tanh and ReLU need, so the
// pre-activations are never kept.

/// A = act(Z), in place over `count` values.
func activationForward(_ activation: Activation, _ values: UnsafeMutablePointer<Float>, count: Int) {
    switch activation {
    case .relu:
        var i = 0
        while i + 8 <= count {
            var v = load8(values + i)
            v.replace(with: 0, where: v .< 0)
            store8(v, values + i)
            i += 8
        }
        while i < count { values[i] = max(values[i], 0); i += 1 }
    case .sigmoid:
        sigmoidForward(values, count: count)
    case .tanh:
        for i in 0..<count { values[i] = tanhf(values[i]) }
    }
}

/// dZ = dA * act'(Z), in place on `gradient`, given the forward output A.
func activationBackward(_ activation: Activation, output: UnsafePointer<Float>,
                        gradient: UnsafeMutablePointer<Float>, count: Int) {
    switch activation {
    case .relu:
        var i = 0
        while i + 8 <= count {
            var g = load8(gradient + i)
            g.replace(with: 0, where: load8(output + i) .<= 0)
            store8(g, gradient + i)
            i += 8
        }
        while i < count { if output[i] <= 0 { gradient[i] = 0 }; i += 1 }
    case .sigmoid:
        for i in 0..<count { gradient[i] *= output[i] * (1 - output[i]) }
    case .tanh:
        for i in 0..<count { gradient[i] *= 1 - output[i] * output[i] }
    }
}

func sigmoidForward(_ values: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { values[i] = 1 / (1 + expf(-values[i])) }
}

/// Row-wise softmax over (rows, columns), in place, shifted by each row's max for stability.
func softmaxForward(_ values: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
    for r in 0..<rows {
        let row = values + r * columns
        var largest = row[0]
        for c in 1..<max(columns, 1) { largest = max(largest, row[c]) }
        var total: Float = 0
        for c in 0..<columns {
            row[c] = expf(row[c] - largest)
            total += row[c]
        }
        let inverse = 1 / total
        for c in 0..<columns { row[c] *= inverse }
    }
}
