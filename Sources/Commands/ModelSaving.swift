import Dataset
import Foundation
import MLP
import OutputFiles
import Training

/// --save at the end of a run. The model is written beside its path and renamed over it, so a
/// failure leaves the file that was there whole; and the weights of a whole run are not lost to
/// a full disk: they go to a fallback (the checkpoint folder, else the temporary folder), and the
/// error says where.
enum ModelSaving {
    /// The model could not be written at its path; `fallback` is where its weights are instead.
    struct SaveError: Error, CustomStringConvertible {
        let failure: FileError
        let fallback: String?
        /// Why each fallback failed too, when none took the weights.
        let fallbackFailures: [FileError]

        var description: String {
            let first = "--save: \(failure.reason) \(failure.doing) \(failure.path)"
            if let fallback {
                return "\(first); the weights are saved in \(fallback) instead: move that file where you want it. Next time \(failure.advice)"
            }
            let others = fallbackFailures.map { "\($0.reason) for \($0.path)" }.joined(separator: "; ")
            return "\(first), and no fallback could take the weights (\(others)): \(failure.advice)"
        }
    }

    /// Writes the model to `path`, or to a fallback, which the thrown `SaveError` names.
    static func save(spec: ModelSpec, parameters: [Float], normalization: Normalization = .pixelScale, to path: String,
                     partial: ModelFile.Partial? = nil, checkpointFolder: String? = nil, settings: [(String, String)] = []) throws {
        do {
            try ModelFile.save(spec: spec, parameters: parameters, normalization: normalization, to: path, partial: partial, settings: settings)
        } catch let failure as FileError {
            var fallbackFailures: [FileError] = []
            for folder in fallbackFolders(checkpointFolder: checkpointFolder) {
                let fallback = (folder as NSString).appendingPathComponent(fallbackName(for: path))
                do {
                    try ModelFile.save(spec: spec, parameters: parameters, normalization: normalization, to: fallback, partial: partial, settings: settings)
                } catch let other as FileError {
                    fallbackFailures.append(other)
                    continue
                }
                throw SaveError(failure: failure, fallback: fallback, fallbackFailures: fallbackFailures)
            }
            throw SaveError(failure: failure, fallback: nil, fallbackFailures: fallbackFailures)
        }
    }

    /// The checkpoint folder (a disk the run already writes to), then the temporary folder.
    static func fallbackFolders(checkpointFolder: String?) -> [String] {
        let temporary = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return (checkpointFolder.map { [$0] } ?? []) + [temporary]
    }

    /// "model.safetensors" becomes "model.1234.safetensors": this process's, never another's file.
    static func fallbackName(for path: String) -> String {
        let name = (path as NSString).lastPathComponent
        let stem = (name as NSString).deletingPathExtension, suffix = (name as NSString).pathExtension
        return "\(stem.isEmpty ? "model" : stem).\(getpid())." + (suffix.isEmpty ? "safetensors" : suffix)
    }
}
