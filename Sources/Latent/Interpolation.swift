import Foundation

/// Linear interpolation (1 - t) a + t b. In high dimensions its midpoint cuts through the
/// low-density middle of a Gaussian prior (norm ~7 between two N(0, I_100) samples of norm ~10).
/// t <= 0 returns a exactly and t >= 1 returns b exactly.
public func lerp(_ a: [Float], _ b: [Float], _ t: Float) -> [Float] {
    precondition(a.count == b.count, "latent sizes differ: \(a.count) and \(b.count)")
    if t <= 0 { return a }
    if t >= 1 { return b }
    return combine(1 - Double(t), a, Double(t), b)
}

/// Spherical interpolation along the great circle from a to b
/// (sin((1-t) w)/sin w * a + sin(t w)/sin w * b, w = arccos(clamp(a^ . b^, -1, 1))).
///
/// Guards: t <= 0 gives a, t >= 1 gives b; a zero-norm endpoint or cos w > 0.9995
/// (near-parallel) falls back to `lerp`. Anti-parallel endpoints (cos w < -0.9995) have no
/// unique great circle: the path goes a -> m -> b, where m is a deterministic direction
/// orthogonal to a (the coordinate axis with the smallest |a^_i|, lowest index on ties, made
/// orthogonal to a by Gram-Schmidt) scaled to the mean of the endpoint norms. Each half is a
/// well-conditioned quarter-turn slerp, so the path never passes through 0.
public func slerp(_ a: [Float], _ b: [Float], _ t: Float) -> [Float] {
    precondition(a.count == b.count, "latent sizes differ: \(a.count) and \(b.count)")
    if t <= 0 { return a }
    if t >= 1 { return b }
    let na = norm(a), nb = norm(b)
    guard na > 0, nb > 0, na.isFinite, nb.isFinite else { return lerp(a, b, t) }
    let cosine = min(1, max(-1, dot(a, b) / (na * nb)))
    if cosine > 0.9995 { return lerp(a, b, t) }
    if cosine < -0.9995 {
        let m = scaled(orthogonalDirection(to: a, norm: na), (na + nb) / 2)
        return t < 0.5 ? slerp(a, m, 2 * t) : slerp(m, b, 2 * t - 1)
    }
    let omega = Foundation.acos(cosine)
    let s = Foundation.sin(omega)
    let td = Double(t)
    return combine(Foundation.sin((1 - td) * omega) / s, a, Foundation.sin(td * omega) / s, b)
}

/// A unit vector orthogonal to a (|a| = norm > 0), chosen deterministically.
func orthogonalDirection(to a: [Float], norm na: Double) -> [Float] {
    precondition(a.count >= 2, "an orthogonal direction needs at least two dimensions")
    var k = 0
    for i in 1..<a.count where abs(a[i]) < abs(a[k]) { k = i }
    // e_k - (a^_k) a^, normalised: |.|^2 = 1 - a^_k^2 > 0 because a has another nonzero axis
    // whenever a^_k is its smallest component.
    let ak = Double(a[k]) / na
    var p = a.map { -ak * Double($0) / na }
    p[k] += 1
    let pn = p.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return p.map { Float($0 / pn) }
}

/// Plat's Gaussian-CDF interpolation: z_i = PhiInv((1 - t) Phi(a_i) + t Phi(b_i)), which keeps
/// every component distributed N(0, 1) along the path. Endpoints are returned exactly. The
/// probability is clamped to [1e-300, 1 - 2^-53], so components beyond about +-8.2 sigma are
/// pulled in (Double cannot tell Phi(8.3) from 1).
public func gaussianCDFInterpolate(_ a: [Float], _ b: [Float], _ t: Float) -> [Float] {
    precondition(a.count == b.count, "latent sizes differ: \(a.count) and \(b.count)")
    if t <= 0 { return a }
    if t >= 1 { return b }
    let td = Double(t)
    return zip(a, b).map { x, y in
        let p = (1 - td) * normalCDF(Double(x)) + td * normalCDF(Double(y))
        return Float(inverseNormalCDF(min(1 - 0x1p-53, max(1e-300, p))))
    }
}

/// Phi(x), the standard normal CDF, as erfc(-x / sqrt 2) / 2 (accurate in both tails).
public func normalCDF(_ x: Double) -> Double {
    0.5 * Foundation.erfc(-x / 2.0.squareRoot())
}

/// PhiInv(p) for p in (0, 1): Acklam's rational approximation (relative error 1.15e-9) refined
/// by one Halley step on erfc, which brings it to near double precision.
/// p <= 0 gives -infinity and p >= 1 gives +infinity.
public func inverseNormalCDF(_ p: Double) -> Double {
    if p <= 0 { return -.infinity }
    if p >= 1 { return .infinity }
    let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
    let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
             6.680131188771972e+01, -1.328068155288572e+01]
    let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
    let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
             3.754408661907416e+00]
    let pLow = 0.02425, pHigh = 1 - 0.02425
    var x: Double
    if p < pLow {
        let q = (-2 * Foundation.log(p)).squareRoot()
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
            / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    } else if p <= pHigh {
        let q = p - 0.5, r = q * q
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    } else {
        let q = (-2 * Foundation.log(1 - p)).squareRoot()
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
            / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    }
    // Halley refinement: e = Phi(x) - p, u = e sqrt(2 pi) exp(x^2 / 2).
    let e = normalCDF(x) - p
    let u = e * (2 * Double.pi).squareRoot() * Foundation.exp(x * x / 2)
    x -= u / (1 + x * u / 2)
    return x
}

/// How a keyframe path moves between two latents.
public enum Interpolation: String, CaseIterable, Sendable {
    case slerp, lerp
    case gaussianCDF = "gaussian-cdf"

    /// The point at t in [0, 1] between a and b.
    public func interpolate(_ a: [Float], _ b: [Float], _ t: Float) -> [Float] {
        switch self {
        case .slerp: return Latent.slerp(a, b, t)
        case .lerp: return Latent.lerp(a, b, t)
        case .gaussianCDF: return gaussianCDFInterpolate(a, b, t)
        }
    }
}

/// Maps the linear segment time t to an eased time; t is clamped to [0, 1] first.
public enum Easing: String, CaseIterable, Sendable {
    /// t
    case linear
    /// t^2 (3 - 2 t)
    case smoothstep
    /// (1 - cos(pi t)) / 2
    case cosine

    public func apply(_ t: Float) -> Float {
        let x = Double(min(1, max(0, t)))
        switch self {
        case .linear: return Float(x)
        case .smoothstep: return Float(x * x * (3 - 2 * x))
        case .cosine: return Float((1 - Foundation.cos(Double.pi * x)) / 2)
        }
    }
}
