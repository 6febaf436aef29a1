/// Padding of a 2-D convolution, one count per side. For a transposed convolution the same
/// numbers crop the output, as PyTorch's `padding` does.
public struct Padding2D: Equatable, Sendable, CustomStringConvertible {
    public var top: Int, bottom: Int, left: Int, right: Int

    public init(top: Int, bottom: Int, left: Int, right: Int) {
        self.top = top; self.bottom = bottom; self.left = left; self.right = right
    }

    public init(_ all: Int) { self.init(top: all, bottom: all, left: all, right: all) }

    public init(height: Int, width: Int) {
        self.init(top: height, bottom: height, left: width, right: width)
    }

    public var description: String {
        top == bottom && left == right
            ? (top == left ? "\(top)" : "[\(top), \(left)]")
            : "[\(top), \(bottom), \(left), \(right)]"
    }
}

/// The sizes that define a conv2d or conv-transpose2d: channels, kernel, stride, padding and,
/// for transposed convolutions, the extra rows/columns added at the bottom/right.
public struct ConvGeometry: Equatable, Sendable {
    public var inChannels: Int
    public var outChannels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    public var padding: Padding2D
    public var outputPaddingHeight: Int
    public var outputPaddingWidth: Int

    public init(inChannels: Int, outChannels: Int, kernelHeight: Int, kernelWidth: Int,
                strideHeight: Int = 1, strideWidth: Int = 1, padding: Padding2D = Padding2D(0),
                outputPaddingHeight: Int = 0, outputPaddingWidth: Int = 0) {
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight; self.strideWidth = strideWidth
        self.padding = padding
        self.outputPaddingHeight = outputPaddingHeight; self.outputPaddingWidth = outputPaddingWidth
    }

    /// Square kernel, stride and padding, as most generators use.
    public init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                outputPadding: Int = 0) {
        self.init(inChannels: inChannels, outChannels: outChannels, kernelHeight: kernel,
                  kernelWidth: kernel, strideHeight: stride, strideWidth: stride,
                  padding: Padding2D(padding), outputPaddingHeight: outputPadding,
                  outputPaddingWidth: outputPadding)
    }

    /// Output (H, W) of a conv2d on an (H, W) input; non-positive when the input is too small.
    public func convOutputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        let h = height + padding.top + padding.bottom - kernelHeight
        let w = width + padding.left + padding.right - kernelWidth
        return (h < 0 ? 0 : h / strideHeight + 1, w < 0 ? 0 : w / strideWidth + 1)
    }

    /// Output (H, W) of a conv-transpose2d on an (H, W) input.
    public func transposedOutputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        ((height - 1) * strideHeight + kernelHeight - padding.top - padding.bottom + outputPaddingHeight,
         (width - 1) * strideWidth + kernelWidth - padding.left - padding.right + outputPaddingWidth)
    }

    /// The same kernel, stride and padding with input and output channels swapped (no output
    /// padding): the geometry of each gradient's adjoint. A conv2d's input gradient is a
    /// conv-transpose2d under it, a conv-transpose2d's a conv2d, and the columns both read or
    /// scatter are its im2col / col2im.
    public var adjoint: ConvGeometry {
        ConvGeometry(inChannels: outChannels, outChannels: inChannels, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                     strideHeight: strideHeight, strideWidth: strideWidth, padding: padding)
    }

    /// Values per output position: inChannels * kernelHeight * kernelWidth.
    public var patchSize: Int { inChannels * kernelHeight * kernelWidth }
}
