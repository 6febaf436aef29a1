import XCTest
@testable import Tensor

/// The .npy header is a Python dict literal; numpy reads it with `ast.literal_eval` and then
/// requires exactly the keys descr, fortran_order and shape, shape a tuple of ints
/// (numpy/lib/format.py, `_read_array_header`). What numpy 2.4 does with each header below was
/// checked with `numpy.lib.format.read_array_header_1_0`. The old reader looked the three keys
/// up by substring and split the shape on commas, so it accepted every refused case here.
final class NPYHeaderTests: XCTestCase {
    /// A version-1.0 file: magic, `header` padded as numpy pads it, then `values` as float32.
    func npy(_ header: String, values: [Float] = [1, 2, 3], major: UInt8 = 1, minor: UInt8 = 0, pad: Bool = true) -> [UInt8] {
        var h = Array(header.utf8)
        if pad {
            while (10 + h.count + 1) % 64 != 0 { h.append(0x20) }
            h.append(0x0A)
        }
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, major, minor, UInt8(h.count & 0xFF), UInt8(h.count >> 8)]
        out += h
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        return out
    }

    func expectRefusal(_ bytes: [UInt8], _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try NPY.decode(bytes, path: "a.npy"), file: file, line: line) { error in
            let text = "\(error)"
            for f in fragments { XCTAssertTrue(text.contains(f), "message lacks '\(f)': \(text)", file: file, line: line) }
        }
    }

    func testWhatNumpyWritesIsRead() throws {
        XCTAssertEqual(try NPY.decode(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }")).shape, [3])
        XCTAssertEqual(try NPY.decode(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }")).shape, [1, 3])
        XCTAssertEqual(try NPY.decode(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", values: [7])).data, [7])
        XCTAssertEqual(try NPY.decode(npy("{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(3,)}", pad: false)).shape, [3])
        XCTAssertEqual(try NPY.decode(npy("{'shape': (0, 5), 'fortran_order': False, 'descr': 'float32'}", values: [])).shape, [0, 5])
        let t = Tensor(shape: [2, 2], data: [1, 2, 3, 4])
        XCTAssertEqual(try NPY.decode(NPY.encode(t)).data, t.data)
    }

    func testMalformedTuplesAreRefused() {
        // numpy: "Cannot parse header" (a SyntaxError in literal_eval).
        expectRefusal(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,, 16), }", values: Array(repeating: 0, count: 48)),
                      ["expected a non-negative whole number", "file offset 63", "found ','"])
        // numpy: "shape is not valid: 3"; (3) is an int in Python.
        expectRefusal(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3), }"), ["a 1-D shape is written (N,)"])
        // numpy: "shape is not valid: [3]".
        expectRefusal(npy("{'descr': '<f4', 'fortran_order': False, 'shape': [3], }"), ["'(' opening the shape tuple"])
        // numpy: "Cannot parse header" (leading zero).
        expectRefusal(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (03,), }"), ["leading zeros"])
    }

    func testExtraMissingAndRepeatedKeysAreRefused() {
        // numpy: "Header does not contain the correct keys".
        expectRefusal(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}"), ["'x' is not one"])
        expectRefusal(npy("{'descr': '<f4', 'shape': (3,), }"), ["expected the key 'fortran_order'"])
        // numpy keeps the last of two 'descr's; a file numpy never writes, so refused.
        expectRefusal(npy("{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"), ["'descr' is repeated"])
    }

    func testNULAndOtherBytesAreRefused() {
        // numpy: "Cannot parse header" (literal_eval refuses NUL).
        expectRefusal(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,\u{0} ), }"), ["byte 0x00"])
        expectRefusal(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\u{0}\u{0}", pad: false), ["only spaces and a newline after the dict", "byte 0x00"])
        expectRefusal(npy("{'descr': '<f\u{0}4', 'fortran_order': False, 'shape': (3,), }"), ["printable ASCII"])
    }

    func testValuesNumpyRefusesOrNeverWritesAreRefused() {
        // numpy: "fortran_order is not a valid bool: 0".
        expectRefusal(npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (3,), }"), ["expected True or False"])
        // numpy accepts these as ints but cannot make an array of them: refused.
        expectRefusal(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (True,), }", values: [1]), ["non-negative whole number"])
        expectRefusal(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }"), ["non-negative whole number"])
        expectRefusal(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0x3,), }"), ["expected ','"])
        expectRefusal(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), } # note"), ["only spaces and a newline"])
        expectRefusal(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }"), ["below 2^63"])
        expectRefusal(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (\(Array(repeating: "1", count: 65).joined(separator: ", "))), }", values: [1]),
                      ["at most 64 dimensions"])
        expectRefusal(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", minor: 1), ["version 1.1"])
    }

    func testSizesAreCheckedBeforeAllocating() {
        expectRefusal(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"), ["too many"])
        expectRefusal(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000,), }"), ["needs 4000000000 bytes"])
        var long = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }")
        long[8] = 0x11; long[9] = 0x27  // 10001 bytes of header
        expectRefusal(long, ["over numpy's limit of 10000"])
    }
}
