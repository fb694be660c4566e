import Commands
import Foundation
import Training

// The same as `dptrain parameter-server`, under its own name for deployments.
setvbuf(stdout, nil, _IOLBF, 0)
RunFiles.main(ParameterServerCommand.self)
