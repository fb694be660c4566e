import Foundation
import ZMQ

/// A bind or connect that failed, named for the user.
public struct EndpointError: Error, CustomStringConvertible {
    public let role: String
    public let verb: String
    public let endpoint: String
    public let error: ZMQError

    public var description: String {
        var text = "\(role): cannot \(verb) \(endpoint): \(error.reason)"
        if error.code == EINVAL || error.code == EPROTONOSUPPORT {
            text += "; an endpoint looks like tcp://HOST:PORT or ipc:///PATH"
        } else if error.code == EADDRINUSE {
            text += "; another process holds it: stop it or choose another port"
        } else if error.code == EADDRNOTAVAIL || error.code == ENODEV {
            text += "; no interface of this machine has that address"
        }
        return text
    }
}
