// Latent — what this target is for and what it deliberately does not do.
// (A README.md here would be an unhandled SwiftPM resource, and Package.swift is not ours to edit.)
//
// # Latent
//
// The latent-space math of Forger, over plain `[Float]` vectors (a batch is `[[Float]]` or a
// `Tensor` (N, Z)): seeded sampling and truncation (`LatentSampler`), lerp / slerp /
// Gaussian-CDF interpolation and easing, keyframe and great-circle paths, per-dimension sweeps and
// their ranking, attribute vectors (mean difference, bias-corrected, InterFaceGAN edits), the
// latent arithmetic language (`LatentExpression`), analogy grids, latent and vector files
// (`LatentFile`, `LatentIO`, `LatentSource`, `VectorLibrary`), and SeFa with a Jacobi eigen solver.
//
// Formulas and guards: `shared/ALGORITHMS.md`.
//
// Deliberately not here: running generators, images and GIFs (Imaging), the command line
// (ForgerCLI). The seed-to-latent mapping documented on `LatentSampler` is a file format: keep it.
