import Commands
import Foundation
import Training

// Before anything multiplies a matrix: OpenBLAS must run on the kernels this CPU deserves.
BLASKernels.ensureFastKernels()
// Line by line, so that output passed through a pipe (dptrain launch, a log) keeps its order with standard error.
setvbuf(stdout, nil, _IOLBF, 0)
DptrainCommand.main()
