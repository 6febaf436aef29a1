// Latent
