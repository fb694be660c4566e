import Commands
import Foundation
import Training

// The same as `dptrain worker`, under its own name for deployments.
BLASKernels.ensureFastKernels()
setvbuf(stdout, nil, _IOLBF, 0)
WorkerCommand.mainWithExitStatus()
