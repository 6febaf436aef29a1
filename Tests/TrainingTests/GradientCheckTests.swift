import XCTest
import Tensor
import NN
@testable import Training

/// Every backward against central finite differences of L = sum(y * r), r fixed and random.
/// Each op has its own step h and tolerance; inputs of relu-like ops keep away from the kinks.
final class GradientCheckTests: XCTestCase {
    func testLinearBackward() {
        var rng = RandomStream(seed: 1)
        let layer = DenseLayer(weight: randomTensor([4, 5], &rng), bias: randomTensor([4], &rng))
        check("linear", layer: layer, input: randomTensor([3, 5], &rng), step: 1e-2, tolerance: 2e-3)
    }

    func testConv2dBackwardStridedAndPadded() {
        for (i, g) in [ConvGeometry(inChannels: 2, outChannels: 3, kernel: 3, stride: 1, padding: 2),
                       ConvGeometry(inChannels: 2, outChannels: 3, kernel: 4, stride: 2, padding: 1),
                       ConvGeometry(inChannels: 1, outChannels: 2, kernelHeight: 3, kernelWidth: 2, strideHeight: 2,
                                    strideWidth: 1, padding: Padding2D(top: 1, bottom: 0, left: 0, right: 1))].enumerated() {
            var rng = RandomStream(seed: UInt64(10 + i))
            let layer = Conv2dLayer(weight: randomTensor([g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth], &rng),
                                    bias: randomTensor([g.outChannels], &rng), geometry: g)
            check("conv2d \(i)", layer: layer, input: randomTensor([2, g.inChannels, 6, 5], &rng), step: 1e-2, tolerance: 3e-3)
        }
    }

    func testConv2dBackwardMatchesNaive() {
        var rng = RandomStream(seed: 3)
        let g = ConvGeometry(inChannels: 3, outChannels: 4, kernel: 3, stride: 2, padding: 1)
        let x = randomTensor([3, 3, 7, 7], &rng), w = randomTensor([4, 3, 3, 3], &rng)
        let dy = randomTensor([3, 4, 4, 4], &rng)
        var gw1 = Tensor(zeros: w.shape), gw2 = gw1
        var gb1: Tensor? = Tensor(zeros: [4]), gb2: Tensor? = Tensor(zeros: [4])
        let dx1 = Conv2dBackward.backward(input: x, weight: w, gradOutput: dy, geometry: g, gradWeight: &gw1, gradBias: &gb1)!
        let dx2 = Conv2dBackward.backwardNaive(input: x, weight: w, gradOutput: dy, geometry: g, gradWeight: &gw2, gradBias: &gb2)
        XCTAssertLessThan(maxAbsDifference(dx1, dx2), 1e-4)
        XCTAssertLessThan(maxAbsDifference(gw1, gw2), 1e-4)
        XCTAssertLessThan(maxAbsDifference(gb1!, gb2!), 1e-4)
    }

    func testConvTranspose2dBackward() {
        for (i, g) in [ConvGeometry(inChannels: 3, outChannels: 2, kernel: 4, stride: 2, padding: 1),
                       ConvGeometry(inChannels: 2, outChannels: 2, kernel: 3, stride: 2, padding: 1, outputPadding: 1),
                       ConvGeometry(inChannels: 4, outChannels: 3, kernel: 4, stride: 1, padding: 0)].enumerated() {
            var rng = RandomStream(seed: UInt64(20 + i))
            let layer = ConvTranspose2dLayer(weight: randomTensor([g.inChannels, g.outChannels, g.kernelHeight, g.kernelWidth], &rng),
                                             bias: randomTensor([g.outChannels], &rng), geometry: g)
            let side = i == 2 ? 1 : 3
            check("convtranspose2d \(i)", layer: layer, input: randomTensor([2, g.inChannels, side, side], &rng),
                  step: 1e-2, tolerance: 3e-3)
        }
    }

    func testUpsampleReshapeFlattenBackward() {
        var rng = RandomStream(seed: 4)
        check("upsample", layer: UpsampleLayer(scale: 2), input: randomTensor([2, 2, 3, 3], &rng), step: 1e-2, tolerance: 1e-3)
        check("reshape", layer: ReshapeLayer(target: [2, -1]), input: randomTensor([2, 8], &rng), step: 1e-2, tolerance: 1e-3)
        check("flatten", layer: ReshapeLayer(target: nil), input: randomTensor([2, 2, 2, 2], &rng), step: 1e-2, tolerance: 1e-3)
    }

    func testBatchNormTrainingBackward() {
        var rng = RandomStream(seed: 5)
        for shape in [[4, 3], [3, 2, 3, 3]] {
            let bn = BatchNormLayer(features: shape[1])
            bn.gamma.value = randomTensor([shape[1]], &rng)
            bn.beta.value = randomTensor([shape[1]], &rng)
            check("batchnorm \(shape)", layer: bn, input: randomTensor(shape, &rng), step: 1e-2, tolerance: 1e-2)
        }
    }

    func testBatchNormRunningStatisticsFollowPyTorch() {
        let bn = BatchNormLayer(features: 1, eps: 1e-5, momentum: 0.1)
        var rng = RandomStream(seed: 0)
        _ = bn.forward(Tensor(shape: [4, 1], data: [1, 2, 3, 4]), training: true, rng: &rng)
        // mean 2.5, unbiased variance 5/3: running = 0.9 * (0, 1) + 0.1 * (2.5, 1.6667)
        XCTAssertEqual(bn.runningMean.value.data[0], 0.25, accuracy: 1e-6)
        XCTAssertEqual(bn.runningVar.value.data[0], 0.9 + 0.1 * 5 / 3, accuracy: 1e-6)
        let y = bn.forward(Tensor(shape: [1, 1], data: [0.25]), training: false, rng: &rng)
        XCTAssertEqual(y.data[0], 0, accuracy: 1e-6, "inference normalises with the running mean")
    }

    func testActivationBackwardAwayFromKinks() {
        for a in [ActivationKind.relu, .leakyReLU(slope: 0.2), .tanh, .sigmoid, .identity] {
            var rng = RandomStream(seed: 6)
            // |x| >= 0.1 > step: finite differences never straddle the kink at 0.
            var x = randomTensor([3, 7], &rng)
            for i in 0..<x.count { x.data[i] = x.data[i] < 0 ? x.data[i] - 0.1 : x.data[i] + 0.1 }
            check("\(a)", layer: ActivationLayer(a), input: x, step: 1e-2, tolerance: 3e-3)
        }
    }

    func testActivationKinksUseTheLeftSlopeAsPyTorch() {
        var rng = RandomStream(seed: 0)
        let x = Tensor(shape: [1, 3], data: [0, 1, -1])
        let relu = ActivationLayer(.relu), leaky = ActivationLayer(.leakyReLU(slope: 0.2))
        _ = relu.forward(x, training: true, rng: &rng)
        _ = leaky.forward(x, training: true, rng: &rng)
        let dy = Tensor(shape: [1, 3], repeating: 1)
        XCTAssertEqual(relu.backward(dy, needInputGradient: true)!.data, [0, 1, 0])
        assertClose(leaky.backward(dy, needInputGradient: true)!.data, [0.2, 1, 0.2], 1e-7)
    }

    func testDropoutBackwardUsesTheForwardMask() {
        var rng = RandomStream(seed: 7)
        let layer = DropoutLayer(rate: 0.5)
        let x = randomTensor([4, 16], &rng)
        var r1 = RandomStream(seed: 99)
        let y = layer.forward(x, training: true, rng: &r1)
        let zeroed = y.data.filter { $0 == 0 }.count
        XCTAssertTrue(zeroed > 10 && zeroed < 54, "about half dropped, got \(zeroed) of 64")
        for i in 0..<x.count where y.data[i] != 0 { XCTAssertEqual(y.data[i], 2 * x.data[i], accuracy: 1e-6) }
        // Same seed, same mask: the finite-difference check sees a fixed linear map.
        check("dropout", layer: layer, input: x, step: 1e-2, tolerance: 1e-3, seed: 99)
        var r2 = RandomStream(seed: 0)
        XCTAssertEqual(layer.forward(x, training: false, rng: &r2).data, x.data, "identity at inference")
    }

    func testEmbeddingBackwardScattersRows() {
        var rng = RandomStream(seed: 8)
        let e = Embedding(table: randomTensor([3, 4], &rng))
        let labels = [2, 0, 2]
        let r = randomTensor([3, 4], &rng)
        _ = e.forward(labels)
        e.backward(r)
        let numeric = numericGradient(of: e.table, step: 1e-2) { dot(e.forward(labels), r) }
        assertClose(e.table.gradient.data, numeric, 1e-3, "embedding table")
    }

    func testLatentJoinBackwardForEveryJoin() {
        for join in [Conditioning.Join.concatLatentFirst, .concatLabelFirst, .multiply] {
            var rng = RandomStream(seed: 12)
            let op = LatentJoin(embedding: Embedding(table: randomTensor([3, join == .multiply ? 4 : 2], &rng)), join: join)
            let z = Parameter(randomTensor([5, 4], &rng)), labels = [2, 0, 2, 1, 0]
            let r = randomTensor([5, join == .multiply ? 4 : 6], &rng)
            _ = op.forward(z.value, labels: labels)
            let dz = op.backward(r)
            assertClose(dz.data, numericGradient(of: z, step: 1e-2) { dot(op.forward(z.value, labels: labels), r) }, 1e-3, "\(join) latents")
            assertClose(op.embedding.table.gradient.data,
                        numericGradient(of: op.embedding.table, step: 1e-2) { dot(op.forward(z.value, labels: labels), r) }, 1e-3,
                        "\(join) embedding")
        }
    }

    func testLatentJoinMatchesTheEngine() {
        // The trainer's join is the one model.json declares: NN's Conditioning, value for value.
        var rng = RandomStream(seed: 13)
        let table = randomTensor([3, 2], &rng), z = randomTensor([4, 5], &rng), labels = [1, 2, 0, 1]
        let y = LatentJoin(embedding: Embedding(table: table), join: .concatLabelFirst).forward(z, labels: labels)
        XCTAssertEqual(y.shape, [4, 7])
        XCTAssertEqual(Array(y.data[0..<7]), Array(table.data[2..<4]) + Array(z.data[0..<5]))
        XCTAssertEqual(y.data, Conditioning(embedding: table, join: .concatLabelFirst).apply(z, labels: labels).data)
    }

    func testLabelChannelsBackward() {
        var rng = RandomStream(seed: 14)
        let op = LabelChannels(embedding: Embedding(table: randomTensor([3, 2], &rng)))
        let x = Parameter(randomTensor([3, 2, 4, 3], &rng)), labels = [1, 1, 2]
        let r = randomTensor([3, 4, 4, 3], &rng)
        let y = op.forward(x.value, labels: labels)
        XCTAssertEqual(y.shape, [3, 4, 4, 3])
        // Image 2's channel 3 is class 2's second embedding value at every pixel.
        XCTAssertEqual(Set(y.data[(2 * 48 + 3 * 12)..<(2 * 48 + 4 * 12)]), [op.embedding.table.value.data[5]])
        let dx = op.backward(r)
        assertClose(dx.data, numericGradient(of: x, step: 1e-2) { dot(op.forward(x.value, labels: labels), r) }, 1e-3, "label channels image")
        assertClose(op.embedding.table.gradient.data,
                    numericGradient(of: op.embedding.table, step: 1e-2) { dot(op.forward(x.value, labels: labels), r) }, 1e-3,
                    "label channels embedding")
        XCTAssertEqual(Array(op.embedding.table.gradient.data[0..<2]), [0, 0], "class 0 is not in the batch")
    }

    func testLossGradientsAndStability() {
        for loss in GANLoss.allCases {
            var rng = RandomStream(seed: 9)
            let real = Parameter(randomTensor([5, 1], &rng)), fake = Parameter(randomTensor([5, 1], &rng))
            for i in 0..<5 { real.value.data[i] *= 3; fake.value.data[i] *= 3 }
            // Hinge has kinks at +-1: keep logits off them.
            for p in [real, fake] { for i in 0..<5 where abs(abs(p.value.data[i]) - 1) < 0.05 { p.value.data[i] += 0.1 } }
            let d = loss.discriminator(real: real.value, fake: fake.value)
            assertClose(d.gradReal.data, numericGradient(of: real, step: 1e-2) { loss.discriminator(real: real.value, fake: fake.value).loss }, 2e-3, "\(loss) D real")
            assertClose(d.gradFake.data, numericGradient(of: fake, step: 1e-2) { loss.discriminator(real: real.value, fake: fake.value).loss }, 2e-3, "\(loss) D fake")
            let g = loss.generator(fake: fake.value)
            assertClose(g.gradFake.data, numericGradient(of: fake, step: 1e-2) { loss.generator(fake: fake.value).loss }, 2e-3, "\(loss) G")
            let extreme = Tensor(shape: [2, 1], data: [-200, 200])
            let e = loss.discriminator(real: extreme, fake: extreme)
            XCTAssertTrue(e.loss.isFinite && e.gradReal.isFinite && e.gradFake.isFinite, "\(loss) at +-200")
            XCTAssertTrue(loss.generator(fake: extreme).loss.isFinite)
        }
        // -log sigmoid(0) = log 2 for real and fake alike.
        XCTAssertEqual(GANLoss.nonSaturating.discriminator(real: Tensor(zeros: [1, 1]), fake: Tensor(zeros: [1, 1])).loss,
                       2 * Float(M_LN2), accuracy: 1e-6)
        XCTAssertEqual(GANLoss.nonSaturating.discriminator(real: Tensor(shape: [1, 1], data: [-100]), fake: Tensor(zeros: [1, 1])).loss,
                       100 + Float(M_LN2), accuracy: 1e-3)
    }

    func testWholeNetworkGradientThroughEveryLayerKind() throws {
        var rng = RandomStream(seed: 11)
        let net = try Network(inputShape: [3], blueprints: [
            .linear(out: 8, bias: true), .batchNorm(eps: 1e-5, momentum: 0.1), .activation(.relu),
            .reshape([2, 2, 2]), .upsample(scale: 2),
            .convTranspose2d(out: 2, kernel: 4, stride: 2, padding: 1, outputPadding: 0, bias: false),
            .batchNorm(eps: 1e-5, momentum: 0.1), .activation(.tanh),
            .conv2d(out: 3, kernel: 3, stride: 2, padding: 1, bias: true), .activation(.leakyReLU(slope: 0.2)),
            .flatten, .linear(out: 1, bias: true),
        ], initialisation: .fanInUniform, rng: &rng)
        XCTAssertEqual(net.outputShape, [1])
        // Step 1e-3: relus after batch norm sit near 0, and a larger step crosses their kinks.
        let x = randomTensor([4, 3], &rng), r = randomTensor([4, 1], &rng)
        var fr = RandomStream(seed: 0)
        net.zeroGradients()
        _ = net.forward(x, training: true, rng: &fr)
        let dx = net.backward(r, needInputGradient: true)!
        for (name, p) in net.namedParameters {
            let numeric = numericGradient(of: p, step: 1e-3) { var q = RandomStream(seed: 0); return dot(net.forward(x, training: true, rng: &q), r) }
            assertClose(p.gradient.data, numeric, 2e-2, "network \(name)")
        }
        let xp = Parameter(x)
        let numeric = numericGradient(of: xp, step: 1e-3) { var q = RandomStream(seed: 0); return dot(net.forward(xp.value, training: true, rng: &q), r) }
        assertClose(dx.data, numeric, 2e-2, "network input")
    }

    func testRandomStreamMatchesSplitMix64Reference() {
        // SplitMix64 from seed 1234567: the reference values of Vigna's splitmix64.c.
        var r = RandomStream(seed: 1234567)
        XCTAssertEqual([r.next(), r.next(), r.next()], [6457827717110365317, 3203168211198807973, 9817491932198370423])
        var a = RandomStream(seed: 5, purpose: 4, index: 10), b = RandomStream(seed: 5, purpose: 4, index: 11)
        XCTAssertNotEqual(a.next(), b.next())
    }

    // MARK: - Harness

    /// Checks a layer's input and parameter gradients against central differences.
    func check(_ name: String, layer: TrainableLayer, input: Tensor, step: Float, tolerance: Float, seed: UInt64 = 0,
               file: StaticString = #filePath, line: UInt = #line) {
        var rng = RandomStream(seed: 1000)
        var fr = RandomStream(seed: seed)
        let probe = layer.forward(input, training: true, rng: &fr)
        let r = randomTensor(probe.shape, &rng)
        for p in layer.parameters { p.parameter.zeroGradient() }
        fr = RandomStream(seed: seed)
        _ = layer.forward(input, training: true, rng: &fr)
        let dx = layer.backward(r, needInputGradient: true)!
        let loss = { (x: Tensor) -> Float in var q = RandomStream(seed: seed); return dot(layer.forward(x, training: true, rng: &q), r) }
        let xp = Parameter(input)
        assertClose(dx.data, numericGradient(of: xp, step: step) { loss(xp.value) }, tolerance, "\(name) input", file: file, line: line)
        for (pname, p) in layer.parameters {
            let analytic = p.gradient.data
            assertClose(analytic, numericGradient(of: p, step: step) { loss(input) }, tolerance, "\(name) \(pname)", file: file, line: line)
        }
    }
}

/// Central differences of `loss` with respect to every element of `p.value`.
func numericGradient(of p: Parameter, step h: Float, _ loss: () -> Float) -> [Float] {
    var out = [Float](repeating: 0, count: p.value.count)
    for i in 0..<p.value.count {
        let keep = p.value.data[i]
        p.value.data[i] = keep + h; let plus = Double(loss())
        p.value.data[i] = keep - h; let minus = Double(loss())
        p.value.data[i] = keep
        out[i] = Float((plus - minus) / (2 * Double(h)))
    }
    return out
}

func dot(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.count == b.count)
    var s = 0.0
    for i in 0..<a.count { s += Double(a.data[i]) * Double(b.data[i]) }
    return Float(s)
}

func randomTensor(_ shape: [Int], _ rng: inout RandomStream) -> Tensor {
    Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float(rng.nextUnit() * 2 - 1) })
}

/// |a - b| <= tolerance * max(1, |b|) elementwise, with the worst element reported.
func assertClose(_ a: [Float], _ b: [Float], _ tolerance: Float, _ what: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(what): sizes differ", file: file, line: line)
    var worst: Float = 0, at = -1
    for i in 0..<min(a.count, b.count) {
        let err = abs(a[i] - b[i]) / max(1, abs(b[i]))
        if !(err <= worst) { worst = err; at = i }
    }
    XCTAssertLessThanOrEqual(worst, tolerance, "\(what): element \(at) is \(at >= 0 ? a[at] : 0), expected \(at >= 0 ? b[at] : 0)",
                             file: file, line: line)
    XCTAssertFalse(a.isEmpty && !b.isEmpty, file: file, line: line)
}
