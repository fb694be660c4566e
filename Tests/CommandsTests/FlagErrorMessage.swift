import ArgumentParser
import XCTest
@testable import Commands

extension XCTestCase {
    /// What a user reads when `arguments` are wrong, as the executable prints it after
    /// "Error: "; nil when they parse and validate.
    func message(_ arguments: [String]) -> String? {
        do {
            _ = try DptrainCommand.parseAsRoot(arguments)
            return nil
        } catch {
            return DptrainCommand.message(for: error)
        }
    }
}
