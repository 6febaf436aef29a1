import CZlib

/// A read-only zip archive held in memory: the subset torch.save writes (PyTorch >= 1.6),
/// with STORED and DEFLATED entries, data descriptors and zip64 records. Every entry read is
/// checked against its CRC-32. Not supported, and refused by name: encryption, multi-disk
/// archives, compression methods other than 0 and 8.
struct ZipArchive {
    struct Entry {
        var name: String
        var method: UInt16
        var flags: UInt16
        var crc: UInt32
        var compressedSize: Int
        var uncompressedSize: Int
        var localHeaderOffset: Int
    }

    let bytes: [UInt8]
    let fail: CheckpointErrors
    /// Entries in central-directory order.
    private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]

    static func isZip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B && bytes[2] == 0x03 && bytes[3] == 0x04
    }

    init(bytes: [UInt8], path: String) throws {
        self.bytes = bytes
        self.fail = CheckpointErrors(path: path)
        try readCentralDirectory()
    }

    func entry(named name: String) -> Entry? { index[name].map { entries[$0] } }

    // MARK: - Little-endian fields, bounds-checked

    private func u16(_ at: Int, _ what: String) throws -> UInt16 {
        guard at >= 0, at + 2 <= bytes.count else { throw truncated(at, what) }
        return UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }

    private func u32(_ at: Int, _ what: String) throws -> UInt32 {
        guard at >= 0, at + 4 <= bytes.count else { throw truncated(at, what) }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[at + i]) << (8 * UInt32(i)) }
        return v
    }

    private func u64(_ at: Int, _ what: String) throws -> UInt64 {
        guard at >= 0, at + 8 <= bytes.count else { throw truncated(at, what) }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[at + i]) << (8 * UInt64(i)) }
        return v
    }

    private func truncated(_ at: Int, _ what: String) -> CheckpointError {
        fail(.truncated, at: "byte \(at)", "the zip ends inside its \(what) (file is \(bytes.count) bytes)",
             hint: CheckpointHint.corrupt)
    }

    /// A 64-bit size or offset that must lie within the file.
    private func fileOffset(_ v: UInt64, _ what: String, at: Int) throws -> Int {
        guard v <= UInt64(bytes.count) else {
            throw fail(.truncated, at: "byte \(at)", "the zip's \(what) (\(v)) points past the end of the file (\(bytes.count) bytes)",
                       hint: CheckpointHint.corrupt)
        }
        return Int(v)
    }

    // MARK: - Central directory

    private mutating func readCentralDirectory() throws {
        let eocd = try endRecord()
        let (start, count) = try centralDirectory(endRecord: eocd)
        var at = start
        for n in 0..<count {
            let (entry, next) = try centralEntry(n, at: at)
            if index[entry.name] == nil { index[entry.name] = entries.count }
            entries.append(entry)
            at = next
        }
    }

    /// Where the end-of-central-directory record starts: the last one within a comment's reach
    /// of the end.
    private func endRecord() throws -> Int {
        // End of central directory: 22 bytes plus a comment of at most 65535 bytes.
        let minEOCD = 22
        guard bytes.count >= minEOCD else { throw truncated(0, "end-of-central-directory record") }
        var eocd = -1
        var p = bytes.count - minEOCD
        let stop = max(0, bytes.count - minEOCD - 0xFFFF)
        while p >= stop {
            if bytes[p] == 0x50, bytes[p + 1] == 0x4B, bytes[p + 2] == 0x05, bytes[p + 3] == 0x06 { eocd = p; break }
            p -= 1
        }
        guard eocd >= 0 else {
            throw fail(.truncated, at: "end of file", "no zip end-of-central-directory record was found; the file is cut short or is not a zip",
                       hint: CheckpointHint.corrupt)
        }
        return eocd
    }

    /// Where the central directory starts and how many entries it holds, from the end record (or
    /// the zip64 end record it points at), checked against the file's size.
    private func centralDirectory(endRecord eocd: Int) throws -> (start: Int, count: Int) {
        let disk = try u16(eocd + 4, "end record"), cdDisk = try u16(eocd + 6, "end record")
        var count = UInt64(try u16(eocd + 10, "end record"))
        var cdSize = UInt64(try u32(eocd + 12, "end record"))
        var cdOffset = UInt64(try u32(eocd + 16, "end record"))

        if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            // Zip64: a locator sits just before the end record and points at the zip64 end record.
            let loc = eocd - 20
            guard loc >= 0, try u32(loc, "zip64 locator") == 0x0706_4B50 else {
                throw fail(.badZip, at: "byte \(eocd)", "the end record asks for zip64 but there is no zip64 locator before it",
                           hint: CheckpointHint.corrupt)
            }
            let rec = try fileOffset(try u64(loc + 8, "zip64 locator"), "zip64 end-record offset", at: loc + 8)
            guard try u32(rec, "zip64 end record") == 0x0606_4B50 else {
                throw fail(.badZip, at: "byte \(rec)", "the zip64 locator does not point at a zip64 end record", hint: CheckpointHint.corrupt)
            }
            count = try u64(rec + 32, "zip64 end record")
            cdSize = try u64(rec + 40, "zip64 end record")
            cdOffset = try u64(rec + 48, "zip64 end record")
        } else if disk != 0 || cdDisk != 0 {
            throw fail(.badZip, at: "byte \(eocd)", "the zip spans several disks (split archive)",
                       hint: "Join the parts into one file first.")
        }

        let start = try fileOffset(cdOffset, "central-directory offset", at: eocd + 16)
        let size = try fileOffset(cdSize, "central-directory size", at: eocd + 12)
        guard start + size <= bytes.count else { throw truncated(start, "central directory") }
        // Each central entry is at least 46 bytes, which bounds the count by the file size.
        guard count <= UInt64(size / 46) else {
            throw fail(.badZip, at: "byte \(eocd)", "the end record claims \(count) entries, more than its \(size)-byte central directory can hold",
                       hint: CheckpointHint.corrupt)
        }

        return (start, Int(count))
    }

    /// Central-directory entry `n`, which starts at `at`, and where the next one starts.
    private func centralEntry(_ n: Int, at: Int) throws -> (Entry, next: Int) {
        guard try u32(at, "central directory") == 0x0201_4B50 else {
            throw fail(.badZip, at: "byte \(at)", "central-directory entry \(n) has a bad signature", hint: CheckpointHint.corrupt)
        }
        let flags = try u16(at + 8, "central directory")
        let method = try u16(at + 10, "central directory")
        let crc = try u32(at + 16, "central directory")
        var csize = UInt64(try u32(at + 20, "central directory"))
        var usize = UInt64(try u32(at + 24, "central directory"))
        let nameLen = Int(try u16(at + 28, "central directory"))
        let extraLen = Int(try u16(at + 30, "central directory"))
        let commentLen = Int(try u16(at + 32, "central directory"))
        var local = UInt64(try u32(at + 42, "central directory"))
        let nameStart = at + 46
        guard nameStart + nameLen + extraLen + commentLen <= bytes.count else { throw truncated(nameStart, "central directory") }
        let name = String(decoding: bytes[nameStart..<nameStart + nameLen], as: UTF8.self)

        // Zip64 extended information: only the fields whose 32-bit value is saturated, in order.
        var e = nameStart + nameLen
        let extraEnd = e + extraLen
        while e + 4 <= extraEnd {
            let tag = try u16(e, "extra field"), len = Int(try u16(e + 2, "extra field"))
            guard e + 4 + len <= extraEnd else { break }
            if tag == 0x0001 {
                var f = e + 4
                func next() throws -> UInt64 {
                    guard f + 8 <= e + 4 + len else {
                        throw fail(.badZip, at: "zip entry '\(name)'", "its zip64 extra field is too short", hint: CheckpointHint.corrupt)
                    }
                    defer { f += 8 }
                    return try u64(f, "zip64 extra field")
                }
                if usize == 0xFFFF_FFFF { usize = try next() }
                if csize == 0xFFFF_FFFF { csize = try next() }
                if local == 0xFFFF_FFFF { local = try next() }
            }
            e += 4 + len
        }

        let entry = Entry(name: name, method: method, flags: flags, crc: crc,
                          compressedSize: try fileOffset(csize, "compressed size of '\(name)'", at: at + 20),
                          uncompressedSize: usize > UInt64(Int.max) ? Int.max : Int(usize),
                          localHeaderOffset: try fileOffset(local, "local-header offset of '\(name)'", at: at + 42))
        return (entry, extraEnd + commentLen)
    }

    // MARK: - Entry data

    /// The uncompressed bytes of `entry`, after checking its local header and CRC-32.
    func read(_ entry: Entry) throws -> [UInt8] {
        let here = "zip entry '\(entry.name)'"
        if entry.flags & 0x0001 != 0 {
            throw fail(.badZip, at: here, "the entry is encrypted", hint: "Decrypt the archive first; torch.save never encrypts.")
        }
        let h = entry.localHeaderOffset
        guard try u32(h, "local header of '\(entry.name)'") == 0x0403_4B50 else {
            throw fail(.badZip, at: "\(here), byte \(h)", "the local header has a bad signature", hint: CheckpointHint.corrupt)
        }
        let nameLen = Int(try u16(h + 26, "local header")), extraLen = Int(try u16(h + 28, "local header"))
        guard h + 30 + nameLen <= bytes.count else { throw truncated(h + 30, "local header of '\(entry.name)'") }
        let localName = String(decoding: bytes[(h + 30)..<(h + 30 + nameLen)], as: UTF8.self)
        guard localName == entry.name else {
            throw fail(.badZip, at: "\(here), byte \(h)", "the local header names '\(localName)' instead", hint: CheckpointHint.corrupt)
        }
        let start = h + 30 + nameLen + extraLen
        guard start <= bytes.count, entry.compressedSize <= bytes.count - start else {
            throw fail(.truncated, at: "\(here), byte \(start)",
                       "the entry's \(entry.compressedSize) bytes run past the end of the file (\(bytes.count) bytes)",
                       hint: CheckpointHint.corrupt)
        }
        let raw = bytes[start..<(start + entry.compressedSize)]

        let data: [UInt8]
        switch entry.method {
        case 0:
            guard entry.uncompressedSize == entry.compressedSize else {
                throw fail(.badZip, at: here, "a STORED entry has different compressed (\(entry.compressedSize)) and uncompressed (\(entry.uncompressedSize)) sizes",
                           hint: CheckpointHint.corrupt)
            }
            data = Array(raw)
        case 8:
            data = try inflate(raw, expected: entry.uncompressedSize, here: here)
        default:
            throw fail(.badZip, at: here, "compression method \(entry.method) is not supported (only 0 STORED and 8 DEFLATED)",
                       hint: "Re-zip the archive with plain deflate, or re-save it with torch.save.")
        }
        let actual = Self.crc32(data)
        guard actual == entry.crc else {
            throw fail(.crcMismatch, at: here,
                       "CRC-32 is \(hex(actual)) but the zip records \(hex(entry.crc)); the bytes were changed or damaged",
                       hint: CheckpointHint.corrupt)
        }
        return data
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        data.withUnsafeBufferPointer { buf -> UInt32 in
            var crc: uLong = CZlib.crc32(0, nil, 0)
            var offset = 0
            while offset < buf.count {
                let n = min(buf.count - offset, 1 << 30)
                crc = CZlib.crc32(crc, buf.baseAddress! + offset, uInt(n))
                offset += n
            }
            return UInt32(truncatingIfNeeded: crc)
        }
    }

    /// Raw (headerless) deflate, as zip stores it. The output size comes from the central
    /// directory; deflate cannot expand data more than about 1032:1, which bounds it by the input.
    private func inflate(_ input: ArraySlice<UInt8>, expected: Int, here: String) throws -> [UInt8] {
        guard expected / 1032 <= input.count + 1 else {
            throw fail(.badZip, at: here, "the entry claims to inflate \(input.count) bytes to \(expected), more than deflate can produce",
                       hint: CheckpointHint.corrupt)
        }
        // One spare byte: zlib needs a non-empty output buffer, and filling it shows the data is too long.
        var out = [UInt8](repeating: 0, count: expected + 1)
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw fail(.io, at: here, "zlib could not start inflating", hint: "")
        }
        defer { inflateEnd(&stream) }
        let status: Int32 = input.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                // One call per 1 GiB window keeps the counts within zlib's 32-bit fields.
                var code = Z_OK
                var inDone = 0, outDone = 0
                repeat {
                    let inChunk = min(src.count - inDone, 1 << 30), outChunk = min(dst.count - outDone, 1 << 30)
                    stream.next_in = UnsafeMutablePointer(mutating: src.baseAddress.map { $0 + inDone })
                    stream.avail_in = uInt(inChunk)
                    stream.next_out = dst.baseAddress.map { $0 + outDone }
                    stream.avail_out = uInt(outChunk)
                    code = CZlib.inflate(&stream, Z_NO_FLUSH)
                    inDone += inChunk - Int(stream.avail_in)
                    outDone += outChunk - Int(stream.avail_out)
                    if code == Z_BUF_ERROR && (inChunk == 0 || outChunk == 0) { break }
                } while code == Z_OK
                return outDone == expected && code == Z_STREAM_END ? Z_STREAM_END : (code == Z_STREAM_END ? Z_DATA_ERROR : code)
            }
        }
        guard status == Z_STREAM_END else {
            throw fail(.badZip, at: here, "the deflated data is damaged or does not inflate to the recorded \(expected) bytes (zlib status \(status))",
                       hint: CheckpointHint.corrupt)
        }
        out.removeLast()
        return out
    }
}

func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}
