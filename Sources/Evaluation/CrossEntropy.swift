import Foundation
import Tensor

/// Softmax cross-entropy from logits, averaged over the batch: the classifier's training loss.
/// Training's losses are the GAN objectives on one logit; this is the K-class counterpart.
public enum SoftmaxCrossEntropy {
    /// logits (N, K), labels N in 0..<K -> (mean loss, d loss / d logits (N, K)).
    /// loss_i = logsumexp(l_i) - l_i[y_i]; gradient (softmax(l_i) - onehot(y_i)) / N.
    public static func loss(logits: Tensor, labels: [Int]) -> (loss: Float, grad: Tensor) {
        precondition(logits.rank == 2 && logits.shape[0] == labels.count, "logits \(logits.shape) vs \(labels.count) labels")
        let (n, k) = (logits.shape[0], logits.shape[1])
        var grad = Tensor(zeros: logits.shape)
        var total: Double = 0
        for i in 0..<n {
            let label = labels[i]
            precondition(label >= 0 && label < k, "label \(label) outside 0..<\(k)")
            var m = -Float.infinity
            for j in 0..<k { m = max(m, logits.data[i * k + j]) }
            var sum: Double = 0
            for j in 0..<k { sum += Foundation.exp(Double(logits.data[i * k + j] - m)) }
            let logSum = Foundation.log(sum)
            total += logSum - Double(logits.data[i * k + label] - m)
            for j in 0..<k { grad.data[i * k + j] = Float(Foundation.exp(Double(logits.data[i * k + j] - m) - logSum)) }
            grad.data[i * k + label] -= 1
        }
        let scale = 1 / Float(n)
        for j in 0..<grad.count { grad.data[j] *= scale }
        return (Float(total / Double(n)), grad)
    }

    /// Row-wise softmax (N, K) -> (N, K), shifted by each row's maximum so it cannot overflow.
    public static func softmax(_ logits: Tensor) -> Tensor {
        precondition(logits.rank == 2)
        let (n, k) = (logits.shape[0], logits.shape[1])
        var out = logits
        for i in 0..<n {
            var m = -Float.infinity
            for j in 0..<k { m = max(m, logits.data[i * k + j]) }
            var sum: Float = 0
            for j in 0..<k { let e = Foundation.exp(logits.data[i * k + j] - m); out.data[i * k + j] = e; sum += e }
            for j in 0..<k { out.data[i * k + j] /= sum }
        }
        return out
    }
}
