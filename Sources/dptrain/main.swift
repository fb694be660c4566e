import Commands
import Foundation
import Training

// Before anything multiplies a matrix: OpenBLAS must run on the kernels this CPU deserves.
BLASKernels.ensureFastKernels()
// Line by line, so that output passed through a pipe (dptrain launch, a log) keeps its order with standard error.
setvbuf(stdout, nil, _IOLBF, 0)
// Called as `coordinator`, `worker` or `parameter-server` (the release archive's links to this one
// executable, which spare three copies of the statically linked runtime), it is that command, as
// the executables of those names are.
switch URL(fileURLWithPath: CommandLine.arguments[0]).lastPathComponent {
case "coordinator": RunFiles.main(CoordinatorCommand.self)
case "worker": RunFiles.main(WorkerCommand.self)
case "parameter-server": RunFiles.main(ParameterServerCommand.self)
default: RunFiles.main(DptrainCommand.self)
}
