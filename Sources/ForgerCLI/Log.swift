import Foundation

/// Writes one line to stderr, where the commands report progress so stdout stays the result.
func log(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }
