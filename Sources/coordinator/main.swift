import Commands
import Foundation
import Training

// The same as `dptrain coordinator`, under its own name for deployments.
BLASKernels.ensureFastKernels()
setvbuf(stdout, nil, _IOLBF, 0)
CoordinatorCommand.mainWithExitStatus()
