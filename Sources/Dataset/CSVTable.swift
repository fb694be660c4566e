import Foundation

/// A CSV file of samples: one label column (the first unless told otherwise), numeric feature
/// columns, and an optional header row (a first row with a cell that is not a number).
/// Read in blocks, line by line, into bytes while every feature is a whole number from 0 to
/// 255 (a CSV of images costs what its IDX copy does), into floats from the first that is not.
enum CSVTable {
    /// Bytes read from the file at a time.
    static let blockSize = 4 << 20

    struct Table {
        var features: LabeledFeatures
        var labels: [UInt8]
        var header: [String]?
    }

    static func load(path: String, labelColumn: String?) throws -> DataFile {
        let table = try read(path: path, labelColumn: labelColumn)
        return try DataFile.pair(train: (table.features, table.labels, path, "training"), test: nil,
                                 sampleShape: [table.features.featureCount], format: "CSV")
    }

    static func read(path: String, labelColumn: String?) throws -> Table {
        guard let file = FileHandle(forReadingAtPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw DatasetError(exists ? .unreadable : .missingFile, path: path, exists ? "cannot be read; check its permissions" : "no such file")
        }
        defer { try? file.close() }
        var parser = Parser(path: path, labelColumn: labelColumn)
        var buffer: [UInt8] = []
        // Room for two blocks, or for the whole file when it is smaller: a small file gets no 8 MiB.
        var status = stat()
        let size = fstat(file.fileDescriptor, &status) == 0 ? max(Int(status.st_size), 0) : blockSize * 2
        buffer.reserveCapacity(min(blockSize * 2, size + 1))
        var ended = false
        while !ended {
            let block = file.readData(ofLength: blockSize)
            if block.isEmpty { ended = true } else { buffer.append(contentsOf: block) }
            // Whole lines only: the rest waits for the next block (or is the last line, at the end).
            let cut = ended ? buffer.count : (buffer.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0)
            try buffer.withUnsafeBufferPointer { try parser.parse(lines: UnsafeBufferPointer(rebasing: $0[..<cut])) }
            buffer.removeSubrange(..<cut)
        }
        return try parser.finish()
    }

    struct Parser {
        let path: String
        let labelColumnText: String?
        var labelColumn: Int?
        var columns = 0
        var line = 0
        var header: [String]?
        var labels: [UInt8] = []
        var bytes: [UInt8] = []
        var values: [Float]?

        init(path: String, labelColumn: String?) {
            self.path = path
            self.labelColumnText = labelColumn
        }

        func error(_ kind: DatasetError.Kind, _ detail: String) -> DatasetError { DatasetError(kind, path: path, "line \(line): \(detail)") }

        mutating func parse(lines: UnsafeBufferPointer<UInt8>) throws {
            var start = 0
            while start < lines.count {
                line += 1
                // Most rows of an image CSV are whole numbers 0-255: one pass over their bytes.
                if columns > 0 && values == nil, let end = bytesLine(lines, from: start) {
                    start = end + 1
                    continue
                }
                var end = start
                while end < lines.count && lines[end] != UInt8(ascii: "\n") { end += 1 }
                var last = end
                if last > start && lines[last - 1] == UInt8(ascii: "\r") { last -= 1 }
                if last > start { try parse(line: UnsafeBufferPointer(rebasing: lines[start..<last])) }
                start = end + 1
            }
        }

        /// Reads the row at `start` when it is nothing but `columns` whole numbers 0-255 (labels
        /// under 256) and commas, and returns where it ends; otherwise takes nothing back and
        /// returns nil, for `parse(line:)` to read it, and say what is wrong with it.
        @inline(__always)
        mutating func bytesLine(_ text: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
            let keptBytes = bytes.count, keptLabels = labels.count
            var at = start, column = 0, value = 0, digits = 0
            let label = labelColumn ?? 0
            while at <= text.count {
                let byte = at < text.count ? text[at] : UInt8(ascii: "\n")
                let digit = Int(byte) &- 48
                if digit >= 0 && digit <= 9 {
                    value = value &* 10 &+ digit
                    digits += 1
                } else if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                    guard digits > 0, digits <= 3, value <= 255, column < columns else { break }
                    if column == label { labels.append(UInt8(value)) } else { bytes.append(UInt8(value)) }
                    column += 1
                    value = 0
                    digits = 0
                    if byte != UInt8(ascii: ",") {
                        if byte == UInt8(ascii: "\r") {
                            guard at + 1 >= text.count || text[at + 1] == UInt8(ascii: "\n") else { break }
                            at += 1
                        }
                        guard column == columns else { break }
                        return at
                    }
                } else {
                    break
                }
                at += 1
            }
            bytes.removeLast(bytes.count - keptBytes)
            labels.removeLast(labels.count - keptLabels)
            return nil
        }

        /// `range` of `text` without the spaces, tabs and double quotes around a cell.
        @inline(__always)
        static func trimmed(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Range<Int> {
            var a = range.lowerBound, b = range.upperBound
            while a < b && (text[a] == 32 || text[a] == 9 || text[a] == 34) { a += 1 }
            while b > a && (text[b - 1] == 32 || text[b - 1] == 9 || text[b - 1] == 34) { b -= 1 }
            return a..<b
        }

        /// The cells of a line, trimmed of spaces and quotes.
        func cells(_ text: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
            var ranges: [Range<Int>] = []
            var start = 0
            for i in 0...text.count where i == text.count || text[i] == UInt8(ascii: ",") {
                ranges.append(Self.trimmed(text, start..<i))
                start = i + 1
            }
            return ranges
        }

        mutating func parse(line text: UnsafeBufferPointer<UInt8>) throws {
            if columns == 0 { try first(text) ; if header != nil { return } }
            var column = 0
            var start = 0
            for i in 0...text.count where i == text.count || text[i] == UInt8(ascii: ",") {
                guard column < columns else {
                    throw error(.raggedRow, "more than the \(columns) cells of the first row; every row needs the same columns")
                }
                try cell(UnsafeBufferPointer(rebasing: text[Self.trimmed(text, start..<i)]), column: column)
                column += 1
                start = i + 1
            }
            guard column == columns else {
                throw error(.raggedRow, "\(column) cells where the first row has \(columns); every row needs the same columns")
            }
        }

        /// The first non-empty line: a header when a cell is not a number; it sets the columns.
        mutating func first(_ text: UnsafeBufferPointer<UInt8>) throws {
            let ranges = cells(text)
            columns = ranges.count
            let names = ranges.map { String(decoding: UnsafeBufferPointer(rebasing: text[$0]), as: UTF8.self) }
            let numeric = names.allSatisfy { Double($0) != nil || ["nan", "inf", "-inf"].contains($0.lowercased()) }
            header = numeric ? nil : names
            guard columns >= 2 else {
                throw error(.raggedRow, "one column; a CSV needs a label column and at least one feature column, separated by commas")
            }
            if let text = labelColumnText {
                if let index = Int(text) {
                    guard (-columns..<columns).contains(index) else {
                        throw DatasetError(.missingColumn, path: path, "--label-column \(index) is outside the \(columns) columns (0 to \(columns - 1), or -1 for the last)")
                    }
                    labelColumn = index < 0 ? columns + index : index
                } else {
                    guard let header else {
                        throw DatasetError(.missingColumn, path: path, "--label-column \(text) names a column, but the file has no header row; give the column's index instead")
                    }
                    guard let index = header.firstIndex(of: text) else {
                        throw DatasetError(.missingColumn, path: path, "no column named \(text); the header has \(header.prefix(12).joined(separator: ", "))\(header.count > 12 ? ", ..." : "")")
                    }
                    labelColumn = index
                }
            } else {
                labelColumn = 0
            }
        }

        @inline(__always)
        mutating func cell(_ text: UnsafeBufferPointer<UInt8>, column: Int) throws {
            // Whole numbers of up to three digits, the common case of images, without strtod.
            var whole = 0
            var digits = true
            for byte in text {
                let digit = Int(byte) &- 48
                if digit < 0 || digit > 9 { digits = false; break }
                whole = whole &* 10 &+ digit
            }
            if digits && !text.isEmpty && text.count <= 9 {
                if column == labelColumn {
                    guard whole < LabelValues.maximumClasses else {
                        throw error(.labelOutOfRange, "label \(whole): dptrain takes at most 256 classes, numbered 0 to 255")
                    }
                    labels.append(UInt8(whole))
                } else if values == nil && whole <= 255 {
                    bytes.append(UInt8(whole))
                } else {
                    appendFloat(Float(whole))
                }
                return
            }
            let value = try number(text, column: column)
            if column == labelColumn {
                labels.append(try LabelValues.label(value, path: path, place: "line \(line)"))
                return
            }
            guard value.isFinite else {
                throw error(.nonFinite, "column \(column) is \(String(decoding: text, as: UTF8.self)); replace missing or infinite values before training")
            }
            appendFloat(Float(value))
        }

        mutating func appendFloat(_ value: Float) {
            if values == nil {
                // The first feature that is not a byte: the ones read so far become floats.
                values = bytes.map { Float($0) }
                values!.reserveCapacity(bytes.count * 2)
                bytes = []
            }
            values!.append(value)
        }

        func number(_ text: UnsafeBufferPointer<UInt8>, column: Int) throws -> Double {
            let shown = String(decoding: text, as: UTF8.self)
            guard !text.isEmpty, text.count < 64 else {
                throw error(.notNumeric, text.isEmpty ? "column \(column) is empty; fill in or drop the row"
                            : "column \(column) is not a number (\(shown.prefix(20))...); dptrain takes numeric columns only")
            }
            let count = text.count
            let value: Double? = withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { buffer in
                for i in 0..<count { buffer[i] = CChar(bitPattern: text[i]) }
                buffer[count] = 0
                var end: UnsafeMutablePointer<CChar>?
                let value = strtod(buffer.baseAddress!, &end)
                return end == buffer.baseAddress! + count ? value : nil
            }
            guard let value else {
                throw error(.notNumeric, "column \(column) is \"\(shown)\", not a number; dptrain takes numeric columns only (encode categories as numbers)")
            }
            return value
        }

        func finish() throws -> Table {
            guard columns > 0 else { throw DatasetError(.emptyFile, path: path, "the file is empty; write the data again") }
            guard !labels.isEmpty else { throw DatasetError(.emptyFile, path: path, "a header and no rows; write the data again") }
            let features: LabeledFeatures = values.map { .floats($0, featureCount: columns - 1) } ?? .bytes(bytes, featureCount: columns - 1)
            return Table(features: features, labels: labels, header: header)
        }
    }
}
