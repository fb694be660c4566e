// Unaligned eight-float loads and stores for the elementwise loops of the step.
// LLVM does not vectorise those loops by itself: it cannot prove the buffers
// do not alias, and leaves a branch per element for ReLU.

typealias Floats8 = SIMD8<Float>

@inline(__always) func load8(_ pointer: UnsafePointer<Float>) -> Floats8 {
    UnsafeRawPointer(pointer).loadUnaligned(as: Floats8.self)
}

@inline(__always) func load8(_ pointer: UnsafeMutablePointer<Float>) -> Floats8 {
    UnsafeRawPointer(pointer).loadUnaligned(as: Floats8.self)
}

@inline(__always) func store8(_ value: Floats8, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Floats8.self)
}
